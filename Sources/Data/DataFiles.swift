import Foundation

/// Where data files are: a name or its `.gz`, directories (reading is `DataFileReader`'s).
enum DataFiles {
    /// The first existing file among `name` and `name.gz` in `directory`, or nil.
    static func existing(_ name: String, in directory: String) -> String? {
        for candidate in [name, name + ".gz"] {
            let path = (directory as NSString).appendingPathComponent(candidate)
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                return path
            }
        }
        return nil
    }

    static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
