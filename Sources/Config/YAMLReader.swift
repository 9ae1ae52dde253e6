import CYaml
import Foundation

/// Reads a YAML document into plain values (`[String: Any]`, `[Any]`, String, Int, Double, Bool,
/// NSNull) from libyaml's event stream, with an explicit stack instead of recursion. It enforces
/// `ConfigLimits` as the events arrive, so a nesting bomb, an alias "billion laughs" or a list
/// used as a key is refused after a few microseconds, before anything is built from it. (Yams'
/// composer recurses per level and its constructor expands aliases and force-unwraps keys.)
/// Keys are the key scalars' text; `<<` merges tables as in YAML 1.1.
struct YAMLReader {
    let path: String
    private var stack: [Collection] = []
    private var anchors: [String: Built] = [:]
    private var values = 0
    private var root: Built?

    /// A finished value, with the number of values it expands to and, for scalars, its text.
    struct Built {
        var value: Any
        var size: Int
        var keyText: String?
    }

    /// A list or table being read.
    private struct Collection {
        var list: [Any]?
        var table: [String: Any] = [:]
        var merges: [[String: Any]] = []
        var pendingKey: String?
        var size = 1
        var anchor: String?
    }

    init(path: String) { self.path = path }

    /// The document's value; nil for an empty stream.
    static func read(_ text: String, path: String) throws -> Any? {
        guard !text.isEmpty else { return nil }  // libyaml asserts on an empty input buffer
        var reader = YAMLReader(path: path)
        return try Array(text.utf8).withUnsafeBufferPointer { buffer -> Any? in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { throw ConfigError("cannot start the YAML parser for '\(path)'.") }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_input_string(&parser, buffer.baseAddress, buffer.count)
            var event = yaml_event_t()
            var documents = 0
            while true {
                guard yaml_parser_parse(&parser, &event) == 1 else { throw reader.syntaxError(parser) }
                defer { yaml_event_delete(&event) }
                switch event.type {
                case YAML_STREAM_END_EVENT: return reader.root?.value
                case YAML_DOCUMENT_START_EVENT:
                    documents += 1
                    if documents > 1 { throw reader.error("holds more than one YAML document", event) }
                default: try reader.handle(event)
                }
            }
        }
    }

    private mutating func handle(_ event: yaml_event_t) throws {
        switch event.type {
        case YAML_SCALAR_EVENT:
            let s = event.data.scalar
            let text = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
            let value = try scalar(text, tag: string(s.tag), plain: s.style == YAML_PLAIN_SCALAR_STYLE, event)
            try add(Built(value: value, size: 1, keyText: text), new: 1, anchor: string(s.anchor), event)
        case YAML_ALIAS_EVENT:
            let name = string(event.data.alias.anchor) ?? ""
            guard let built = anchors[name] else { throw error("uses the undefined alias *\(name)", event) }
            try add(built, new: built.size, anchor: nil, event)
        case YAML_SEQUENCE_START_EVENT:
            try open(Collection(list: [], anchor: string(event.data.sequence_start.anchor)),
                     tag: string(event.data.sequence_start.tag), "tag:yaml.org,2002:seq", event)
        case YAML_MAPPING_START_EVENT:
            try open(Collection(list: nil, anchor: string(event.data.mapping_start.anchor)),
                     tag: string(event.data.mapping_start.tag), "tag:yaml.org,2002:map", event)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            let done = stack.removeLast()
            var table = done.table
            for merged in done.merges { table.merge(merged) { mine, _ in mine } }
            try add(Built(value: done.list ?? table, size: done.size, keyText: nil), new: 1, anchor: done.anchor, event)
        default:
            break  // stream start, document end
        }
    }

    private mutating func open(_ collection: Collection, tag: String?, _ ownTag: String, _ event: yaml_event_t) throws {
        if let tag, tag != ownTag, tag != "!" { throw error("uses the tag \(tag), which no field takes", event) }
        if let top = stack.last, top.list == nil, top.pendingKey == nil {
            throw error("has a list or table as a key; keys must be names", event)
        }
        guard stack.count < ConfigLimits.maxDepth else {
            throw error("nests lists and tables deeper than \(ConfigLimits.maxDepth) levels", event)
        }
        stack.append(collection)
    }

    /// Puts a finished value into the collection being read (or makes it the document); `new`
    /// values are counted against the limit: 1 for a scalar or collection, the whole size of an
    /// alias, none for a table's key (the same count `ConfigLoader` makes of every format).
    private mutating func add(_ built: Built, new: Int, anchor: String?, _ event: yaml_event_t) throws {
        if let top = stack.last, top.list == nil, top.pendingKey == nil {
            guard let key = built.keyText else { throw error("has a list or table as a key; keys must be names", event) }
            guard key.count <= ConfigLimits.maxKeyLength else { throw error(ConfigLimits.keyTooLong(key), event) }
            if let anchor { anchors[anchor] = built }
            stack[stack.count - 1].pendingKey = key
            return
        }
        values += new
        guard values <= ConfigLimits.maxValues else {
            throw error("expands to more than \(ConfigLimits.maxValues) values (through aliases, or simply too many)", event)
        }
        if let anchor { anchors[anchor] = built }
        guard !stack.isEmpty else { root = built; return }
        stack[stack.count - 1].size += built.size
        if stack[stack.count - 1].list != nil {
            stack[stack.count - 1].list!.append(built.value)
        } else if let key = stack[stack.count - 1].pendingKey {
            try setValue(built.value, key: key, event)
        }
    }

    private mutating func setValue(_ value: Any, key: String, _ event: yaml_event_t) throws {
        stack[stack.count - 1].pendingKey = nil
        if key == "<<" {
            let tables = (value as? [String: Any]).map { [$0] } ?? (value as? [Any])?.compactMap { $0 as? [String: Any] }
            guard let tables, tables.count == ((value as? [Any])?.count ?? 1) else {
                throw error("merges (<<) something that is not a table or a list of tables", event)
            }
            stack[stack.count - 1].merges += tables
            return
        }
        guard stack[stack.count - 1].table[key] == nil else { throw error("gives the key '\(key)' twice", event) }
        stack[stack.count - 1].table[key] = value
    }

    private func scalar(_ text: String, tag: String?, plain: Bool, _ event: yaml_event_t) throws -> Any {
        guard let tag else { return plain ? YAMLScalar.plain(text) : text }
        guard YAMLScalar.coreTags.contains(tag) else { throw error("uses the tag \(tag), which no field takes", event) }
        guard let value = YAMLScalar.tagged(text, tag: tag) else { throw error("has '\(text)', which is not a \(tag)", event) }
        return value
    }

    private func string(_ pointer: UnsafeMutablePointer<yaml_char_t>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private func error(_ problem: String, _ event: yaml_event_t) -> ConfigError {
        ConfigError("config file '\(path)' \(problem) (line \(event.start_mark.line + 1)).")
    }

    private func syntaxError(_ parser: yaml_parser_t) -> ConfigError {
        let problem = parser.problem.map { String(cString: $0) } ?? "unreadable input"
        return ConfigError("config file '\(path)' is not valid YAML at line \(parser.problem_mark.line + 1): \(problem).")
    }
}
