import Testing

@testable import VolleyEngine

private final class Item: Slotted {
    let name: Int
    var slot = -1
    init(_ name: Int) { self.name = name }
}

/// The engine's connection and VU lists rely on each element knowing its position.
@Suite struct SlotListTests {
    @Test func removingAnyElementKeepsEveryPositionTrue() {
        var list = SlotList<Item>()
        let items = (0..<6).map(Item.init)
        for item in items { list.insert(item) }
        list.remove(items[1])  // middle: the last takes its place
        list.remove(items[5])  // now the last element
        list.remove(items[0])
        #expect(list.count == 3)
        #expect(Set(list.map(\.name)) == [2, 3, 4])
        for position in 0..<list.count { #expect(list[position].slot == position) }
        #expect(items[1].slot == -1 && items[5].slot == -1 && items[0].slot == -1)
    }

    @Test func insertingTwiceOrRemovingAStrangerChangesNothing() {
        var list = SlotList<Item>()
        var other = SlotList<Item>()
        let a = Item(1)
        let b = Item(2)
        list.insert(a)
        list.insert(a)
        other.insert(b)
        list.remove(b)  // b's slot (0) is valid here, but the element there is not b
        #expect(list.count == 1 && list[0] === a)
        #expect(b.slot == 0 && other.count == 1)
        list.remove(a)
        list.remove(a)
        #expect(list.isEmpty && a.slot == -1)
    }

    @Test func iteratingWhileRemovingVisitsTheSnapshot() {
        var list = SlotList<Item>()
        for i in 0..<5 { list.insert(Item(i)) }
        var seen: [Int] = []
        for item in list {
            seen.append(item.name)
            list.remove(item)
        }
        #expect(seen.sorted() == [0, 1, 2, 3, 4])
        #expect(list.isEmpty)
    }
}
