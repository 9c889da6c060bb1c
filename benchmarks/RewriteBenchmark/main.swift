print("rewrite benchmark")
