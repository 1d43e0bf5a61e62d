import VolleyCore

/// RFC 4180 CSV: a header row, commas, double quotes (with `""` for a quote), CRLF or LF.
enum CSVFeed {
    static func parse(_ text: String) throws -> FeedTable {
        var records: [[String]] = []
        var lines: [Int] = []
        var record: [String] = []
        var field = ""
        var quoted = false
        var fieldWasQuoted = false
        var line = 1
        var recordLine = 1
        var chars = Array(text).makeIterator()
        var pending: Character? = chars.next()
        func endRecord() {
            record.append(field)
            if !(record.count == 1 && record[0].isEmpty && !fieldWasQuoted) {
                records.append(record)
                lines.append(recordLine)
            }
            record = []
            field = ""
            fieldWasQuoted = false
        }
        while let c = pending {
            pending = chars.next()
            if quoted {
                if c == "\"" {
                    if pending == "\"" {
                        field.append("\"")
                        pending = chars.next()
                    } else {
                        quoted = false
                    }
                } else {
                    if c == "\n" || c == "\r\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty:
                quoted = true
                fieldWasQuoted = true
            case ",":
                record.append(field)
                field = ""
                fieldWasQuoted = false
            case "\n", "\r\n", "\r":
                endRecord()
                line += 1
                recordLine = line
            default:
                field.append(c)
            }
        }
        if quoted {
            throw FeedProblem(message: "has an unclosed quote (from line \(recordLine))", hint: "close it with \"")
        }
        if !field.isEmpty || !record.isEmpty || fieldWasQuoted { endRecord() }
        guard let header = records.first else { return FeedTable(columns: [], rows: []) }
        let columns = header.map { $0.trimmingSpaces() }
        var rows: [[String]] = []
        for (row, number) in zip(records.dropFirst(), lines.dropFirst()) {
            guard row.count == columns.count else {
                throw FeedProblem(
                    message:
                        "has \(row.count) field\(row.count == 1 ? "" : "s") on line \(number), the header has \(columns.count)",
                    hint: "quote fields that contain commas: \"a, b\""
                )
            }
            rows.append(row)
        }
        return FeedTable(columns: columns, rows: rows)
    }
}
