// Wrong: a std::array is still on the stack, 2 KiB per level like the C array: the child still
// dies of a stack overflow.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <array>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>

#include <sys/wait.h>
#include <unistd.h>

// Returns the nesting depth of a document like "[[[]]]", recursively.
int depth_of(const std::string& doc, std::size_t& pos) {
    // TODO: 2 KiB on the fiber's stack in every level of the recursion. Keep big buffers
    // off a task's stack (or give the task a bigger one: task_options{.stack_size = ...}).
    std::array<char, 2048> scratch = {};
    std::snprintf(scratch.data(), scratch.size(), "level at offset %zu", pos);
    int depth = 0;
    while (pos < doc.size() && doc[pos] == '[') {
        ++pos;
        depth = std::max(depth, 1 + depth_of(doc, pos));
        ++pos;  // the matching ']'
    }
    return depth + static_cast<int>(std::strlen(scratch.data()) == 0);
}

int parse(int nesting) {
    std::string doc = std::string(static_cast<std::size_t>(nesting), '[') +
                      std::string(static_cast<std::size_t>(nesting), ']');
    std::size_t pos = 0;
    return depth_of(doc, pos);
}

// Parses a document nested `nesting` deep in a task, in a new event loop.
void parse_in_a_task(int nesting) {
    aio::run([nesting] {
        lesson::start();
        auto t = aio::create_task(aio::task_options{.name = "parse"}, parse, nesting);
        lesson::say("document nested %d deep: depth %d parsed", nesting, t.get());
    });
}

int main() {
    // 1. The deep document, in a child process: if its stack overflows, only the child dies.
    int err[2];
    if (::pipe(err) != 0) {
        return 1;
    }
    std::fflush(stdout);
    pid_t child = ::fork();
    if (child == 0) {
        ::dup2(err[1], 2);
        ::close(err[0]);
        parse_in_a_task(200);
        std::fflush(stdout);
        ::_exit(0);
    }
    ::close(err[1]);
    std::string said;
    char buf[512];
    for (ssize_t n; (n = ::read(err[0], buf, sizeof buf)) > 0;) {
        said.append(buf, static_cast<std::size_t>(n));
    }
    int status = 0;
    ::waitpid(child, &status, 0);
    if (WIFSIGNALED(status)) {
        std::printf("child: killed by signal %d (%s)\n", WTERMSIG(status),
                    strsignal(WTERMSIG(status)));
        auto at = said.find("aio: stack overflow");
        std::printf("child's last words: %s", at == said.npos ? "(none)\n" : said.c_str() + at);
    } else {
        std::printf("child: exited normally (status %d)\n", WEXITSTATUS(status));
    }
    // 2. A shallower document, here: it works, but it used most of the stack (debug mode
    // reports stack-high-water: the warning before the crash).
    parse_in_a_task(48);
}
