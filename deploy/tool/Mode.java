// One --mode of the command (the command lists them all in its modes()): its
// name, what it needs before its handler runs, and the handler. The command
// looks the mode up once: one that needs no database runs at once and never
// asks for --db-url; the others get a connection to it, bounded by --timeout.
// A new mode is one entry in that table (deploy/docs/extending.md).

import java.util.List;
import java.util.function.BooleanSupplier;

/** NAME needs NEEDS, or only files while FILES_ONLY says so; HANDLER runs it. */
record Mode(String name, Needs needs, Handler handler, BooleanSupplier filesOnly) {

    /** What a mode needs before its handler runs. */
    enum Needs {
        /** Files, the environment, other programs: no database, so no --db-url. */
        FILES,
        /** A connection to --db-url (or DATABASE_URL). */
        DATABASE,
        /** A connection, once pg_isready says the server is up (a URL it refuses fails with its reason). */
        READY_SERVER
    }

    /** Runs the mode with a CONNECTOR to its database (null when it needs none): the exit status. */
    interface Handler {
        int run(Connector connector) throws Exception;
    }

    /** Runs a mode that needs no database: the exit status. */
    interface FilesHandler {
        int run() throws Exception;
    }

    static Mode files(String name, FilesHandler handler) {
        return new Mode(name, Needs.FILES, none -> handler.run(), () -> true);
    }

    static Mode database(String name, Handler handler) {
        return new Mode(name, Needs.DATABASE, handler, () -> false);
    }

    static Mode readyServer(String name, Handler handler) {
        return new Mode(name, Needs.READY_SERVER, handler, () -> false);
    }

    /** This mode, run without a database (its handler given no connector) while CONDITION holds. */
    Mode filesOnlyWhen(BooleanSupplier condition) {
        return new Mode(name, needs, handler, condition);
    }

    /** What this mode needs in this run. */
    Needs needsNow() {
        return filesOnly.getAsBoolean() ? Needs.FILES : needs;
    }

    /** The mode named NAME in MODES, or null (no such mode, or none given). */
    static Mode named(List<Mode> modes, String name) {
        return modes.stream().filter(mode -> mode.name.equals(name)).findFirst().orElse(null);
    }
}
