// The workload's batch size adapts to the trigger's cost (issue 10.3): pure
// logic, fed with the costs per row that the two kinds of trigger show.

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BatchSizerTest {

    /** Feeds batches costing `perRow(n)` ns a row until the sizer settles; returns the sizes it asked for. */
    private static java.util.List<Integer> run(Workload.BatchSizer sizer, java.util.function.IntToDoubleFunction perRow) {
        java.util.List<Integer> sizes = new java.util.ArrayList<>();
        for (int batch = 0; batch < 1000 && !sizer.isSettled(); batch++) {
            int size = sizer.nextBatchRows();
            sizes.add(size);
            sizer.record(size, Math.round(size * perRow.applyAsDouble(size)));
        }
        sizes.add(sizer.nextBatchRows());
        return sizes;
    }

    @Test
    void rowsThatCostTheSameInAnyStatementGetTheDefaultBatch() {
        // Ours: 30 µs a row plus a 1 ms round trip a statement.
        var sizer = Workload.BatchSizer.adaptive();
        var sizes = run(sizer, n -> 30_000 + 1_000_000.0 / n);
        assertTrue(sizer.isSettled());
        assertEquals(Workload.DEFAULT_BATCH_ROWS, sizes.get(sizes.size() - 1));
    }

    @Test
    void rowsThatCostMoreInBiggerStatementsGetTheCheapestMeasuredBatch() {
        // A per-row sentinel update (issue 10): 45 µs a row, 18 ns more per row already in the
        // statement, a 1 ms round trip; the cheapest of the probe sizes is 250. At 1000 rows a row
        // costs 64 µs, more than 15% above 250's 53.5 µs, so 4000 (117 µs) is never probed.
        var sizer = Workload.BatchSizer.adaptive();
        var sizes = run(sizer, n -> 45_000 + 18.0 * n + 1_000_000.0 / n);
        assertEquals(250, sizes.get(sizes.size() - 1));
        assertEquals(java.util.List.of(100, 250, 500, 1000), sizes.stream().distinct().toList().subList(0, 4));
        assertFalse(sizes.contains(4000), sizes.toString());
    }

    @Test
    void anExplicitBatchSizeIsNeverChanged() {
        var sizer = Workload.BatchSizer.fixed(777);
        assertTrue(sizer.isSettled());
        sizer.record(777, 1_000_000_000L);
        assertEquals(777, sizer.nextBatchRows());
    }

    @Test
    void noiseWithinFifteenPercentKeepsTheDefault() {
        assertEquals(Workload.DEFAULT_BATCH_ROWS, Workload.BatchSizer.choose(new double[] {50, 40, 40, 41, 45}));
        assertEquals(250, Workload.BatchSizer.choose(new double[] {50, 40, 45, 60, 90}));
        assertFalse(Workload.BatchSizer.clearlyDearer(new double[] {50, 40, 45, 0, 0}, 2));
        assertTrue(Workload.BatchSizer.clearlyDearer(new double[] {50, 40, 47, 0, 0}, 2));
        assertFalse(Workload.BatchSizer.adaptive().isSettled());
    }
}
