print("schemaproxy")
