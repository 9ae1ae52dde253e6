/// The few edits launch makes to command lines: the `localsgd train` arguments of a restart and
/// the words of `--mpirun-args`.
public enum CommandLineWords {
    /// Whether `name` (`--out`) is given, as `--out X` or `--out=X`, or as a flag.
    public static func contains(_ name: String, in words: [String]) -> Bool {
        words.contains { $0 == name || $0.hasPrefix(name + "=") }
    }

    /// `words` without option `name` and its value.
    public static func removing(_ name: String, from words: [String]) -> [String] {
        var result: [String] = [], i = 0
        while i < words.count {
            if words[i] == name {
                i += 2
            } else {
                if !words[i].hasPrefix(name + "=") { result.append(words[i]) }
                i += 1
            }
        }
        return result
    }

    /// The words of `text` as a POSIX shell splits them (blanks, single and double quotes,
    /// backslash escapes), without expansions.
    public static func split(_ text: String) throws -> [String] {
        var words: [String] = [], word = "", inWord = false
        var quote: Character?, escaped = false
        for c in text {
            if escaped {
                word.append(c)
                escaped = false
            } else if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"" { escaped = true } else { word.append(c) }
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else if c == "\\" {
                escaped = true
                inWord = true
            } else if c == " " || c == "\t" || c == "\n" {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(c)
                inWord = true
            }
        }
        guard quote == nil, !escaped else { throw LaunchError("--mpirun-args has an unclosed quote or a trailing backslash: \(text)") }
        if inWord { words.append(word) }
        return words
    }
}
