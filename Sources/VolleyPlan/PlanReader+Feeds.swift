import VolleyCore

/// Data feeds: declared in the plan, read and checked now so a bad file fails before the run.
extension PlanReader {
    static let feedKeys = ["file", "format", "order", "when_exhausted"]
    static let feedOrders = ["sequential", "random", "unique"]

    func readFeeds(_ node: PlanNode) -> [DataFeed] {
        guard let pairs = map(node, "\"feeds\"") else { return [] }
        var feeds: [DataFeed] = []
        for pair in pairs {
            guard Self.isName(pair.key) else {
                error(
                    "invalid feed name \"\(pair.key)\"",
                    at: pair.keyNode.location,
                    hint: "names are letters, digits and _; steps use them as ${name.column}"
                )
                continue
            }
            references.feedColumns[pair.key] = .some(nil)
            if let feed = readFeed(pair) { feeds.append(feed) }
        }
        return feeds
    }

    private func readFeed(_ entry: PlanNode.Pair) -> DataFeed? {
        guard let pairs = map(entry.value, "feed \"\(entry.key)\"") else { return nil }
        checkKeys(pairs, allowed: Self.feedKeys, in: "a feed")
        let order = readOrder(pairs)
        guard let fileNode = value(pairs, "file") else {
            error(
                "feed \"\(entry.key)\" has no file",
                at: entry.keyNode.location,
                hint: "add file: data.csv or file: data.json"
            )
            return nil
        }
        guard let path = text(fileNode, "file") else { return nil }
        let format: DataFeed.Format
        if let node = value(pairs, "format") {
            guard let text = text(node, "format") else { return nil }
            guard let given = DataFeed.Format(rawValue: text) else {
                error("unknown feed format \"\(text)\"", at: node.location, hint: "formats are csv and json")
                return nil
            }
            format = given
        } else {
            let suffix = path.split(separator: ".").last.map { $0.lowercased() } ?? ""
            guard let guessed = DataFeed.Format(rawValue: suffix), path.contains(".") else {
                error(
                    "cannot tell the format of \"\(path)\" from its name",
                    at: fileNode.location,
                    hint: "add format: csv or format: json"
                )
                return nil
            }
            format = guessed
        }
        let resolved = resolvedPath(path)
        switch FeedFile.read(path: resolved, format: format) {
        case .success(let table):
            feedTables[entry.key] = table
            references.feedColumns[entry.key] = .some(table.columns)
        case .failure(let problem):
            error("feed file \"\(path)\" \(problem.message)", at: fileNode.location, hint: problem.hint)
        }
        guard let order else { return nil }
        return DataFeed(name: entry.key, path: resolved, format: format, order: order, location: entry.keyNode.location)
    }

    private func readOrder(_ pairs: [PlanNode.Pair]) -> DataFeed.Order? {
        var kind = "sequential"
        if let node = value(pairs, "order") {
            guard let text = text(node, "order") else { return nil }
            guard Self.feedOrders.contains(text) else {
                error(
                    "unknown feed order \"\(text)\"",
                    at: node.location,
                    hint: Suggestion.didYouMean(text, among: Self.feedOrders).map { "did you mean \"\($0)\"?" }
                        ?? "orders are sequential, random and unique"
                )
                return nil
            }
            kind = text
        }
        var recycle = false
        if let exhausted = pair(pairs, "when_exhausted") {
            guard kind == "unique" else {
                error(
                    "\"when_exhausted\" applies to order: unique only",
                    at: exhausted.keyNode.location,
                    hint: "sequential and random feeds never run out"
                )
                return nil
            }
            guard let text = text(exhausted.value, "when_exhausted") else { return nil }
            guard text == "stop" || text == "recycle" else {
                error("\"when_exhausted\" must be stop or recycle, got \"\(text)\"", at: exhausted.value.location)
                return nil
            }
            recycle = text == "recycle"
        }
        switch kind {
        case "random": return .random
        case "unique": return .unique(recycle: recycle)
        default: return .sequential
        }
    }
}
