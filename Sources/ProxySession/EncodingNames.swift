/// PostgreSQL's names for client encodings: what the server reports in ParameterStatus and SHOW for any
/// spelling a client may send (`eucjp`, `euc-jp`, `Shift_JIS`, `unicode`...), from PostgreSQL's own alias table
/// (src/common/encnames.c). The proxy answers a client's startup packet before a server connection has applied
/// its settings, so it reports the server's spelling from here.
public enum EncodingNames {
    /// The server's name for `name`, or nil when PostgreSQL would not know it.
    public static func canonical(_ name: String) -> String? {
        Self.aliases[SessionSettings.loosely(name)]
    }

    private static let aliases: [String: String] = {
        var table: [String: String] = [
            "abc": "WIN1258", "alt": "WIN866", "big5": "BIG5", "euccn": "EUC_CN", "eucjis2004": "EUC_JIS_2004",
            "eucjp": "EUC_JP", "euckr": "EUC_KR", "euctw": "EUC_TW", "gb18030": "GB18030", "gbk": "GBK",
            "iso88591": "LATIN1", "iso885910": "LATIN6", "iso885913": "LATIN7", "iso885914": "LATIN8",
            "iso885915": "LATIN9", "iso885916": "LATIN10", "iso88592": "LATIN2", "iso88593": "LATIN3",
            "iso88594": "LATIN4", "iso88595": "ISO_8859_5", "iso88596": "ISO_8859_6", "iso88597": "ISO_8859_7",
            "iso88598": "ISO_8859_8", "iso88599": "LATIN5", "johab": "JOHAB", "koi8": "KOI8R", "koi8r": "KOI8R",
            "koi8u": "KOI8U", "mskanji": "SJIS", "muleinternal": "MULE_INTERNAL", "shiftjis": "SJIS",
            "shiftjis2004": "SHIFT_JIS_2004", "sjis": "SJIS", "sqlascii": "SQL_ASCII", "tcvn": "WIN1258",
            "tcvn5712": "WIN1258", "uhc": "UHC", "unicode": "UTF8", "utf8": "UTF8", "vscii": "WIN1258",
            "win": "WIN1251", "win866": "WIN866", "win874": "WIN874", "win932": "SJIS", "win936": "GBK",
            "win949": "UHC", "win950": "BIG5", "windows866": "WIN866", "windows874": "WIN874",
            "windows932": "SJIS", "windows936": "GBK", "windows949": "UHC", "windows950": "BIG5",
        ]
        for n in 1...10 { table["latin\(n)"] = "LATIN\(n)" }
        for n in 1250...1258 {
            table["win\(n)"] = "WIN\(n)"
            table["windows\(n)"] = "WIN\(n)"
        }
        return table
    }()
}
