/// An object that stores its own position in one ``SlotList``, so removing it needs no search.
protocol Slotted: AnyObject {
    /// Position in the list that holds it; -1 when in none.
    var slot: Int { get set }
}

/// An unordered list of objects with O(1) insertion and removal.
///
/// The engine keeps three such lists (a loop's connections, a scenario loop's busy VU
/// connections, and its VUs), each touched on every request or every VU retirement. A
/// linear search there made 50,000 VUs take minutes to wind down, and a dictionary cost
/// two hashes per request; a swap-remove with the position kept in the element costs
/// neither. Order is not kept: iteration order changes as elements leave.
struct SlotList<Element: Slotted>: Sequence {
    private var elements: [Element] = []

    var count: Int { elements.count }
    var isEmpty: Bool { elements.isEmpty }

    subscript(position: Int) -> Element { elements[position] }

    /// Appends `element` unless it is in a list already.
    mutating func insert(_ element: Element) {
        guard element.slot < 0 else { return }
        element.slot = elements.count
        elements.append(element)
    }

    /// Removes `element` if this list holds it; the last element takes its place.
    mutating func remove(_ element: Element) {
        let slot = element.slot
        guard slot >= 0, slot < elements.count, elements[slot] === element else { return }
        let last = elements.removeLast()
        if last !== element {
            elements[slot] = last
            last.slot = slot
        }
        element.slot = -1
    }

    /// Iterates over a snapshot: elements may be removed (or added) while iterating.
    func makeIterator() -> IndexingIterator<[Element]> { elements.makeIterator() }
}
