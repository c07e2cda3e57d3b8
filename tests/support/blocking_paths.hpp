// Ways a task can block the loop thread for a while without calling sleep(): through a mutex,
// a condition variable, a future, a join, socket and pipe calls, a file lock, a FIFO, glibc's
// _FORTIFY_SOURCE wrappers and a raw system call. Each path blocks for `how_long` (a helper
// thread makes the wait end) and names the call debug mode's blocking-call finding should
// name. Shared by tests/debug/test_blocking_paths.cpp and tests/bench/bench_blocking_paths.cpp.
#pragma once

#include <aio/detail/config.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

extern "C" ssize_t __read_chk(int fd, void* buf, size_t n, size_t buflen);
extern "C" ssize_t __recv_chk(int fd, void* buf, size_t n, size_t buflen, int flags);
extern "C" int __poll_chk(struct pollfd* fds, nfds_t n, int timeout, size_t fdslen);

namespace aio::test {

struct blocking_path {
    std::string name;  ///< what the program does
    std::string call;  ///< the call the finding names
    std::function<void(std::chrono::milliseconds)> block;
    /// No wrapper sees the call: the watchdog finds the loop thread asleep in the kernel and
    /// the finding names the system call ("blocking system call futex in task ...").
    bool kernel = false;
};

namespace blocking_detail {

// Runs `after` on a helper thread `how_long` from now; joined on destruction (plain join:
// the helper's own wait must not be what is measured, so it is joined after the block).
class later {
public:
    later(std::chrono::milliseconds how_long, std::function<void()> after)
        : thread_([how_long, after = std::move(after)] {
            std::this_thread::sleep_for(how_long);
            after();
        }) {}
    ~later() { thread_.join(); }

private:
    std::thread thread_;
};

inline void fill(int fd) {
    char c = 'x';
    (void)!::write(fd, &c, 1);
}

#if defined(__x86_64__)
// nanosleep made with the syscall instruction itself, as code that bypasses libc does.
inline long raw_nanosleep(const timespec* ts) {
    long ret = 0;
    asm volatile("syscall"
                 : "=a"(ret)
                 : "a"(static_cast<long>(SYS_nanosleep)), "D"(ts), "S"(nullptr)
                 : "rcx", "r11", "memory");
    return ret;
}
#endif

}  // namespace blocking_detail

/// Every path, `sanitized`: whether the thread calls (mutex, condition variable, join) are
/// left out because sanitizer builds do not interpose them.
inline std::vector<blocking_path> blocking_paths() {
    using namespace std::chrono_literals;
    using blocking_detail::fill;
    using blocking_detail::later;
    std::vector<blocking_path> p;
#if !defined(AIO_SANITIZE_THREAD) && !defined(AIO_SANITIZE_ADDRESS)
    p.push_back({"a std::mutex held by another thread", "pthread_mutex_lock",
                 [](std::chrono::milliseconds d) {
                     // The hand-shake spins instead of waiting on a future: a wait for
                     // the holder to start is a blocking call of its own (syscall()),
                     // slow on a loaded machine, and not the path measured here.
                     std::mutex m;
                     std::atomic<bool> held{false};
                     std::thread holder([&] {
                         std::lock_guard<std::mutex> g(m);
                         held.store(true, std::memory_order_release);
                         std::this_thread::sleep_for(d);
                     });
                     while (!held.load(std::memory_order_acquire)) {
                         std::this_thread::yield();
                     }
                     { std::lock_guard<std::mutex> g(m); }
                     holder.join();
                 }});
    p.push_back(
        {"std::condition_variable::wait", "pthread_cond_wait", [](std::chrono::milliseconds d) {
             std::mutex m;
             std::condition_variable cv;
             bool ready = false;
             later l(d, [&] {
                 std::lock_guard<std::mutex> g(m);
                 ready = true;
                 cv.notify_one();
             });
             std::unique_lock<std::mutex> g(m);
             cv.wait(g, [&] { return ready; });
         }});
    p.push_back({"std::thread::join", "pthread_join", [](std::chrono::milliseconds d) {
                     std::thread t([d] { std::this_thread::sleep_for(d); });
                     t.join();
                 }});
#endif
    p.push_back({"std::future::get", "syscall", [](std::chrono::milliseconds d) {
                     std::promise<int> pr;
                     auto f = pr.get_future();
                     later l(d, [&] { pr.set_value(1); });
                     (void)f.get();
                 }});
    p.push_back({"recvmsg on a socket", "recvmsg", [](std::chrono::milliseconds d) {
                     int sv[2];
                     ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
                     {
                         later l(d, [&] { (void)!::send(sv[1], "x", 1, 0); });
                         char c;
                         iovec iov{&c, 1};
                         msghdr msg{};
                         msg.msg_iov = &iov;
                         msg.msg_iovlen = 1;
                         (void)::recvmsg(sv[0], &msg, 0);
                     }
                     ::close(sv[0]);
                     ::close(sv[1]);
                 }});
    p.push_back({"readv from a pipe", "readv", [](std::chrono::milliseconds d) {
                     int fds[2];
                     (void)!::pipe(fds);
                     {
                         later l(d, [&] { fill(fds[1]); });
                         char c;
                         iovec iov{&c, 1};
                         (void)::readv(fds[0], &iov, 1);
                     }
                     ::close(fds[0]);
                     ::close(fds[1]);
                 }});
    p.push_back({"read from a FIFO", "read", [](std::chrono::milliseconds d) {
                     char path[] = "/tmp/aio-fifo-XXXXXX";
                     ::close(::mkstemp(path));
                     ::unlink(path);
                     ::mkfifo(path, 0600);
                     int rd = ::open(path, O_RDONLY | O_NONBLOCK);
                     int wr = ::open(path, O_WRONLY);
                     ::fcntl(rd, F_SETFL, 0);  // a blocking read from here on
                     {
                         later l(d, [&] { fill(wr); });
                         char c;
                         (void)!::read(rd, &c, 1);
                     }
                     ::close(rd);
                     ::close(wr);
                     ::unlink(path);
                 }});
    p.push_back({"ppoll with a timeout", "ppoll", [](std::chrono::milliseconds d) {
                     timespec ts{0, static_cast<long>(std::chrono::nanoseconds(d).count())};
                     (void)::ppoll(nullptr, 0, &ts, nullptr);
                 }});
    p.push_back(
        {"flock on a file another thread has locked", "flock", [](std::chrono::milliseconds d) {
             char path[] = "/tmp/aio-flock-XXXXXX";
             int a = ::mkstemp(path);
             int b = ::open(path, O_RDWR);
             ::flock(a, LOCK_EX);
             {
                 later l(d, [&] { ::flock(a, LOCK_UN); });
                 ::flock(b, LOCK_EX);
             }
             ::close(a);
             ::close(b);
             ::unlink(path);
         }});
    p.push_back({"pclose of a command", "pclose", [](std::chrono::milliseconds d) {
                     std::string cmd =
                         "sleep " + std::to_string(static_cast<double>(d.count()) / 1000.0);
                     if (FILE* f = ::popen(cmd.c_str(), "r")) {
                         ::pclose(f);
                     }
                 }});
    p.push_back({"a fortified read (__read_chk)", "read", [](std::chrono::milliseconds d) {
                     int fds[2];
                     (void)!::pipe(fds);
                     {
                         later l(d, [&] { fill(fds[1]); });
                         char c;
                         (void)__read_chk(fds[0], &c, 1, 1);
                     }
                     ::close(fds[0]);
                     ::close(fds[1]);
                 }});
    p.push_back({"a fortified recv (__recv_chk)", "recv", [](std::chrono::milliseconds d) {
                     int sv[2];
                     ::socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
                     {
                         later l(d, [&] { (void)!::send(sv[1], "x", 1, 0); });
                         char c;
                         (void)__recv_chk(sv[0], &c, 1, 1, 0);
                     }
                     ::close(sv[0]);
                     ::close(sv[1]);
                 }});
    p.push_back({"a fortified poll (__poll_chk)", "poll", [](std::chrono::milliseconds d) {
                     pollfd none{-1, 0, 0};
                     (void)__poll_chk(&none, 1, static_cast<int>(d.count()), sizeof none);
                 }});
    p.push_back({"a raw syscall(SYS_nanosleep)", "syscall", [](std::chrono::milliseconds d) {
                     timespec ts{0, static_cast<long>(std::chrono::nanoseconds(d).count())};
                     (void)::syscall(SYS_nanosleep, &ts, nullptr);
                 }});
    // Seen only in the kernel: no libc function a wrapper could interpose.
    p.push_back({"sem_wait (a wait inside libc)", "futex",
                 [](std::chrono::milliseconds d) {
                     sem_t sem;
                     ::sem_init(&sem, 0, 0);
                     {
                         later l(d, [&] { ::sem_post(&sem); });
                         ::sem_wait(&sem);
                     }
                     ::sem_destroy(&sem);
                 },
                 true});
#if defined(__x86_64__)
    p.push_back({"nanosleep by the syscall instruction", "nanosleep",
                 [](std::chrono::milliseconds d) {
                     timespec ts{0, static_cast<long>(std::chrono::nanoseconds(d).count())};
                     (void)blocking_detail::raw_nanosleep(&ts);
                 },
                 true});
#endif
    return p;
}

}  // namespace aio::test
