/// HPACK's dynamic table (RFC 7541 §2.3.2, §4) for one connection's response decoder: the
/// entries' bytes in one buffer and their positions in a ring, so an insertion is a copy of
/// its bytes and an eviction is arithmetic.
///
/// Servers index fields they never refer to again (nginx marks `server`, `date`,
/// `content-type` and `content-length` of every response for indexing), so a load test
/// inserts and evicts four entries per response; with an array per name and value that was
/// eight allocations and a shift of the whole table per response (3–4 % of an h2c run's CPU).
///
/// Entries' bytes are appended behind the newest; when the buffer's end is reached the live
/// bytes (at most `maxSize`) move to its front, so with twice the table's size as capacity a
/// byte moves at most once per `maxSize` bytes inserted. Used through ``H2HeaderDecoder``,
/// which copies it before writing when it is shared (value semantics).
final class HPACKDynamicTable {
    private struct Slot {
        var start: Int
        var nameCount: Int
        var valueCount: Int
    }

    /// The announced size: the most `maxSize` can be.
    let capacity: Int
    /// The size limit now (RFC 7541 §4.2): lowered by a size update, never above `capacity`.
    var maxSize: Int
    /// Entries, and their size as RFC 7541 §4.1 counts it (bytes + 32 each).
    private(set) var count = 0
    private(set) var size = 0

    private let bytes: UnsafeMutablePointer<UInt8>
    private let byteCapacity: Int
    /// The position (counted since the table began) of `bytes[0]`, and after the newest entry.
    private var base = 0
    private var end = 0
    private let slots: UnsafeMutablePointer<Slot>
    private let slotCapacity: Int
    private var oldest = 0

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        maxSize = self.capacity
        byteCapacity = max(64, 2 * self.capacity)
        bytes = .allocate(capacity: byteCapacity)
        // Every entry takes at least 32 bytes of the table.
        slotCapacity = self.capacity / 32 + 1
        slots = .allocate(capacity: slotCapacity)
    }

    deinit {
        bytes.deallocate()
        slots.deallocate()
    }

    /// A table with the same entries (for a copy of the decoder that is then written).
    func copy() -> HPACKDynamicTable {
        let other = HPACKDynamicTable(capacity: capacity)
        other.maxSize = maxSize
        for d in stride(from: count, through: 1, by: -1) {
            withEntry(d) { name, value in other.insert(name: name, value: value) }
        }
        return other
    }

    /// Calls `body` with the name and value of dynamic index `d` (1: the newest); nil when
    /// the table has no such entry. The buffers are valid only inside `body`.
    @inline(__always)
    func withEntry<R>(
        _ d: Int,
        _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R
    ) -> R? {
        guard d >= 1 && d <= count else { return nil }
        let slot = slots[(oldest + count - d) % slotCapacity]
        let name = UnsafeRawBufferPointer(start: bytes + (slot.start - base), count: slot.nameCount)
        let value = UnsafeRawBufferPointer(
            start: bytes + (slot.start - base + slot.nameCount),
            count: slot.valueCount
        )
        return body(name, value)
    }

    /// Adds an entry as the newest, evicting the oldest as needed; one larger than the table
    /// empties it and is not added (§4.4). `name` and `value` must not point into the table.
    func insert(name: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) {
        let entrySize = name.count + value.count + 32
        guard entrySize <= maxSize else { return removeAll() }
        evict(toFit: entrySize)
        let n = name.count + value.count
        if end - base + n > byteCapacity { compact() }
        let at = bytes + (end - base)
        if let p = name.baseAddress { at.update(from: p.assumingMemoryBound(to: UInt8.self), count: name.count) }
        if let p = value.baseAddress {
            (at + name.count).update(from: p.assumingMemoryBound(to: UInt8.self), count: value.count)
        }
        slots[(oldest + count) % slotCapacity] = Slot(start: end, nameCount: name.count, valueCount: value.count)
        end += n
        count += 1
        size += entrySize
    }

    /// Evicts the oldest entries until `incoming` more bytes fit in `maxSize` (§4.4).
    func evict(toFit incoming: Int) {
        while size + incoming > maxSize && count > 0 {
            let slot = slots[oldest]
            size -= slot.nameCount + slot.valueCount + 32
            oldest = oldest + 1 == slotCapacity ? 0 : oldest + 1
            count -= 1
        }
        if count == 0 { base = end }
    }

    private func removeAll() {
        count = 0
        size = 0
        oldest = 0
        base = end
    }

    /// Moves the live entries' bytes to the buffer's front.
    private func compact() {
        let liveStart = count > 0 ? slots[oldest].start : end
        let live = end - liveStart
        // Overlapping regions: copyMemory moves as memmove does.
        if live > 0 { UnsafeMutableRawPointer(bytes).copyMemory(from: bytes + (liveStart - base), byteCount: live) }
        base = liveStart
    }
}
