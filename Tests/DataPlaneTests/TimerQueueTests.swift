import DataPlane
import Testing

@Suite struct TimerQueueTests {
    @Test func firesInDeadlineOrderNotSchedulingOrder() {
        var timers = TimerQueue<String>()
        _ = timers.schedule(at: 30, "c")
        _ = timers.schedule(at: 10, "a")
        _ = timers.schedule(at: 20, "b")
        #expect(timers.nextDeadline() == 10)
        #expect(timers.popDue(now: 5) == nil)
        var fired: [String] = []
        while let (_, name) = timers.popDue(now: 25) { fired.append(name) }
        #expect(fired == ["a", "b"])
        #expect(timers.nextDeadline() == 30)
        #expect(timers.count == 1)
    }

    @Test func cancelledTimersNeverFireAndFreeTheirPayload() {
        var timers = TimerQueue<Int>()
        let first = timers.schedule(at: 10, 1)
        _ = timers.schedule(at: 20, 2)
        #expect(timers.cancel(first) == 1)
        #expect(timers.cancel(first) == nil, "cancelling twice is harmless")
        #expect(timers.nextDeadline() == 20)
        #expect(timers.popDue(now: 100)?.1 == 2)
        #expect(timers.isEmpty)
        #expect(timers.nextDeadline() == nil)
    }

    @Test func manyTimersComeOutSorted() {
        var timers = TimerQueue<UInt64>()
        var generator = SystemRandomNumberGenerator()
        var deadlines: [UInt64] = []
        for _ in 0..<500 {
            let deadline = UInt64.random(in: 0..<10_000, using: &generator)
            deadlines.append(deadline)
            _ = timers.schedule(at: deadline, deadline)
        }
        var popped: [UInt64] = []
        while let (_, deadline) = timers.popDue(now: .max) { popped.append(deadline) }
        #expect(popped == deadlines.sorted())
    }
}
