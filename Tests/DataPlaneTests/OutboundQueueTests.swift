import DataPlane
import Testing

@Suite struct OutboundQueueTests {
    @Test func keepsOrderAcrossGrowthAndPartialConsumption() {
        var queue = OutboundQueue()
        var expected: [UInt8] = []
        var sent: [UInt8] = []
        for round in 0..<200 {
            let piece = [UInt8](repeating: UInt8(round % 251), count: (round * 37) % 3000 + 1)
            piece.withUnsafeBytes { queue.append($0) }
            expected += piece
            // Consume an odd amount: the front moves, the rest must stay in order.
            let take = min(queue.count, (round * 53) % 2500)
            queue.withQueuedBytes { sent += $0.prefix(take) }
            queue.consume(take)
        }
        queue.withQueuedBytes { sent += $0 }
        queue.consume(queue.count)
        #expect(sent == expected)
        let drained = queue.isEmpty
        #expect(drained)
    }

    @Test func emptyQueueHoldsNoBytes() {
        var queue = OutboundQueue()
        var count = queue.count
        #expect(count == 0)
        queue.withQueuedBytes { #expect($0.count == 0) }
        [UInt8]([1, 2, 3]).withUnsafeBytes { queue.append($0) }
        count = queue.count
        #expect(count == 3)
        queue.consume(3)
        let drained = queue.isEmpty
        #expect(drained)
    }
}
