extension String {
    /// ASCII case-insensitive equality without allocating lowercased copies: header names
    /// are compared on every response, and `lowercased()` showed up in profiles.
    func equalsIgnoringASCIICase(_ other: String) -> Bool {
        let a = self.utf8
        let b = other.utf8
        guard a.count == b.count else { return false }
        for (x, y) in zip(a, b) where x != y {
            let lx = (x >= 0x41 && x <= 0x5A) ? x | 0x20 : x
            let ly = (y >= 0x41 && y <= 0x5A) ? y | 0x20 : y
            if lx != ly { return false }
        }
        return true
    }

    /// ASCII case-insensitive prefix test.
    func hasPrefixIgnoringASCIICase(_ prefix: String) -> Bool {
        let p = prefix.utf8
        guard self.utf8.count >= p.count else { return false }
        return String(decoding: self.utf8.prefix(p.count), as: UTF8.self).equalsIgnoringASCIICase(prefix)
    }
}
