// The room's progress: what `progress --json` prints, the report a runner sends to the
// facilitator's collector after each run (AIO_LESSONS_REPORT), and the collector itself
// (`progress --serve`), built on aio's HTTP client and server.
#pragma once

#include "runner.hpp"

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

namespace lessons {

/// The participant's name in reports: $AIO_LESSONS_NAME, else "$USER@hostname".
std::string participant_name();

/// Seconds since the Unix epoch, now.
std::int64_t unix_now();

/// The workspace's progress as JSON (schema "aio-lessons-progress", version 1): the
/// participant's name, `now`, the current lesson, lessons done and total, and per lesson of
/// the manifest: done, attempts, hints, seconds (first run to passed, or to now while not
/// passed; 0 when never run), watched_seconds, first_run and passed_at (Unix times, 0: none).
nlohmann::json progress_json(const manifest& m, const workspace& ws);

/// When $AIO_LESSONS_REPORT is set (http://host:port), POSTs progress_json to its /report
/// with aio's HTTP client (1 s to connect, 2 s in all). Never throws: a failure prints one
/// warning line on stderr, the first time in this process only, and after a failure no
/// report is tried for 30 s, so a collector that is down costs a run no more than that.
void report_progress(const manifest& m, const workspace& ws);

/// `progress`: each lesson's attempts, hints and time; with `json`, progress_json.
int cmd_progress(const manifest& m, const options& o, bool json);

/// `progress --serve`: the collector. Serves, until Ctrl-C or SIGTERM, on host:port (port 0:
/// a free one, printed): POST /report takes a runner's progress_json (at most 64 KiB and 500
/// participants; 400 with the reason for anything else), GET / is a page of the room that
/// reloads itself every 5 s, GET /progress.json the same as JSON. Throws what
/// aio::http::run_app throws (an address in use: std::system_error).
int cmd_progress_serve(const manifest& m, const std::string& host, int port);

}  // namespace lessons
