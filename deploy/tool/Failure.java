// The one kind of error BackupSmoke expects: it is reported as a single line
// on stderr and the run exits 1, without a stack trace.

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;

/** An expected failure: printed as one line, exit 1. */
class Failure extends Exception {
    Failure(String message) {
        super(message);
    }

    /** Quotes like Go's %q for the common cases, so messages match the original tool's. */
    static String quoted(String text) {
        StringBuilder quoted = new StringBuilder("\"");
        for (char c : text.toCharArray()) {
            switch (c) {
                case '"' -> quoted.append("\\\"");
                case '\\' -> quoted.append("\\\\");
                case '\n' -> quoted.append("\\n");
                case '\t' -> quoted.append("\\t");
                default -> quoted.append(c);
            }
        }
        return quoted.append('"').toString();
    }

    /**
     * Why a file could not be read or written, in words and one line: Java names a missing or
     * forbidden file only by its path (which the caller's line names already), and says
     * "Input length = 1" of bytes that are not UTF-8.
     */
    static String reason(IOException failure) {
        if (failure instanceof NoSuchFileException) {
            return "no such file or directory";
        }
        if (failure instanceof AccessDeniedException) {
            return "permission denied";
        }
        if (failure instanceof CharacterCodingException) {
            return "not UTF-8 text";
        }
        if (failure instanceof JsonProcessingException json) {
            return "not JSON: " + jsonProblem(json);
        }
        if (failure instanceof FileAlreadyExistsException) { // from createDirectories: not as a folder
            return "exists and is not a folder";
        }
        if (failure instanceof NotDirectoryException) {
            return "not a directory";
        }
        String message = String.valueOf(failure.getMessage());
        if (failure instanceof FileSystemException named) { // its message starts with the path
            message = named.getReason() != null ? named.getReason() : "cannot be used";
        }
        return message.replaceAll("\\s*\\R\\s*", " ");
    }

    /** The reason, and which file it is about when that is not NAMED, the folder the caller's line names. */
    static String reasonAt(IOException failure, java.nio.file.Path named) {
        return failure instanceof FileSystemException about && about.getFile() != null
                && !about.getFile().equals(named.toString()) ? reason(failure) + " (" + about.getFile() + ")"
                : reason(failure);
    }

    /** Jackson's complaint without its note on the source, and where in the text it is. */
    private static String jsonProblem(JsonProcessingException json) {
        String problem = String.valueOf(json.getOriginalMessage()).lines().findFirst().orElse("")
                .replaceAll("\\s*\\(start marker at \\[Source:.*", "");
        JsonLocation at = json.getLocation();
        return at == null || at.getLineNr() < 1 ? problem
                : problem + " (line " + at.getLineNr() + ", column " + at.getColumnNr() + ")";
    }
}
