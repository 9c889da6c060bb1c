import Testing
@testable import ConnectionPool

@Suite struct FIFOQueueTests {
    @Test func firstInFirstOut() {
        var queue = FIFOQueue<Int>()
        #expect(queue.isEmpty)
        #expect(queue.popFirst() == nil)
        for value in 1...3 { queue.append(value) }
        #expect(queue.count == 3)
        #expect(queue.first == 1)
        #expect(queue.popFirst() == 1)
        #expect(queue.popFirst() == 2)
        queue.append(4)
        #expect(queue.popFirst() == 3)
        #expect(queue.popFirst() == 4)
        #expect(queue.isEmpty)
    }

    @Test func popFirstWhereTakesTheOldestMatch() {
        var queue = FIFOQueue<Int>()
        for value in [1, 2, 3, 4, 5] { queue.append(value) }
        #expect(queue.popFirst(where: { $0 % 2 == 0 }) == 2)
        #expect(queue.popFirst(where: { $0 > 10 }) == nil)
        #expect(queue.popFirst(where: { $0 == 1 }) == 1)
        #expect(queue.removeAll(where: { $0 == 4 }) == [4])
        #expect(queue.count == 2)
        #expect(queue.popFirst() == 3)
        #expect(queue.popFirst() == 5)
    }

    /// Compares every operation with a plain array, across the compaction after many pops.
    @Test(arguments: UInt64(1)...20)
    func behavesLikeAnArray(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var queue = FIFOQueue<Int>()
        var model: [Int] = []
        var next = 0
        for step in 0..<2_000 {
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                queue.append(next)
                model.append(next)
                next += 1
            case 5..<7:
                #expect(queue.popFirst() == (model.isEmpty ? nil : model.removeFirst()), "step \(step)")
            case 7..<9:
                let divisor = Int.random(in: 2...5, using: &random)
                let expected = model.firstIndex(where: { $0 % divisor == 0 }).map { model.remove(at: $0) }
                #expect(queue.popFirst(where: { $0 % divisor == 0 }) == expected, "step \(step)")
            default:
                let value = next - Int.random(in: 1...10, using: &random)
                let expected = model.filter { $0 == value }
                model.removeAll { $0 == value }
                #expect(queue.removeAll(where: { $0 == value }) == expected, "step \(step)")
            }
            #expect(queue.count == model.count)
            #expect(queue.first == model.first)
        }
    }
}
