// The recovery point a drill measured (SPEC section 9.10): how far the
// restored chain is behind the newest state known, in rows and in seconds.

/**
 * rows: the reference's rows the restore lacks; seconds: from the time the
 * restore's newest known state was recorded (the newest ledger entry it
 * holds) to the reference's time, 0 when it lacks no row, null when the
 * restore holds no ledger entry to date it by.
 */
record Rpo(long rows, Double seconds, String reference) {

    static Rpo between(long restoredRows, java.time.Instant restoredTime, long referenceRows,
                       java.time.Instant referenceTime, String reference) {
        long lacking = Math.max(0, referenceRows - restoredRows);
        if (lacking == 0) {
            return new Rpo(0, 0.0, reference);
        }
        if (restoredTime == null) {
            return new Rpo(lacking, null, reference);
        }
        long millis = Math.max(0, java.time.Duration.between(restoredTime, referenceTime).toMillis());
        return new Rpo(lacking, millis / 1000.0, reference);
    }
}
