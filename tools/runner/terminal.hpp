// The terminal as `watch` uses it: single keys without Enter and without echo while it waits,
// the terminal as it was everywhere else, and a clear screen between runs.
#pragma once

#include <chrono>
#include <string>

namespace lessons {

/// The keys `watch` reads from stdin.
///
/// On a terminal, between begin_keys() and end_keys() the terminal is in raw mode (no line
/// buffering, no echo; Ctrl-C and Ctrl-Z still work), and each key counts at once. The
/// terminal is put back as it was by end_keys(), by the destructor (so also when an exception
/// leaves watch), and by SIGINT, SIGTERM, SIGHUP and SIGQUIT, whose handlers restore it and
/// then let the signal end the process as it would have. After Ctrl-Z and `fg` raw mode is
/// set again.
///
/// Not on a terminal (a pipe, a file: tests, scripts), each character of the input but
/// spaces and line ends is a key, so "n\n" is `n`. Once the input is at its end (`closed()`),
/// no key comes any more.
///
/// One object at a time (the signal handlers find it through a global).
class key_input {
public:
    key_input();
    ~key_input();
    key_input(const key_input&) = delete;
    key_input& operator=(const key_input&) = delete;

    /// stdin is a terminal.
    [[nodiscard]] bool is_terminal() const { return tty_; }
    /// stdin reached its end: no key will come.
    [[nodiscard]] bool closed() const { return closed_; }
    /// Raw mode on (a terminal only); keys typed before it (during a run) are dropped, so
    /// call it before showing what the keys act on.
    void begin_keys();
    /// The terminal as it was before begin_keys().
    void end_keys();
    /// Waits up to `timeout` for a key. Returns it, or '\0' when none came (or stdin is
    /// closed: then it just waits out the timeout). Does not throw.
    char wait_key(std::chrono::milliseconds timeout);

private:
    bool tty_ = false;
    bool closed_ = false;
    bool raw_ = false;
    std::string pending_;  // keys read, not yet returned
};

/// Clears the screen and puts the cursor at the top left (ANSI), when stdout is a terminal;
/// nothing otherwise, so that a pipe or a log gets no escape codes.
void clear_screen();

}  // namespace lessons
