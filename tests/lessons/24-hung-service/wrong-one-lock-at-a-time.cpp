// Wrong: each account's lock is held only while its balance is read, never two at once. No
// deadlock, but the writes come after the locks are released, so concurrent transfers write
// back stale balances and updates are lost.
#include "lesson.hpp"

#include <aio/aio.hpp>

#include <string>

#include <unistd.h>

using namespace std::chrono_literals;

// ---- the bank's database: no need to edit. Each read and write waits for the database
// server (aio::sleep stands for that wait), so each one is a yield point.

struct account {
    int id;
    const char* owner;
    aio::lock lock;  // held by the transfer that is changing this account
};

account alice{1, "alice", {}};
account bob{2, "bob", {}};
account carol{3, "carol", {}};

namespace db {
int balances[4] = {0, 1000, 1000, 1000};  // by account id

int read(const account& a) {
    aio::sleep(20ms);
    return balances[a.id];
}

void write(const account& a, int balance) {
    aio::sleep(10ms);
    balances[a.id] = balance;
}
}  // namespace db

// ---- the transfer: yours to fix.

// Moves `amount` from one account to the other. Each balance is read, then written back: the
// two accounts stay locked for the whole transfer, so that no other transfer changes them in
// between (that would lose an update, as in lesson 01).
void transfer(account& from, account& to, int amount) {
    int from_balance = 0;
    int to_balance = 0;
    {
        auto from_held = from.lock.guard();
        from_balance = db::read(from);
    }
    {
        auto to_held = to.lock.guard();
        to_balance = db::read(to);
    }
    db::write(from, from_balance - amount);
    db::write(to, to_balance + amount);
}

// ---- the service and the lesson's checks: do not edit below this line (the runner reads
// what it prints).

struct batch {
    const char* name;
    account* from;
    account* to;
    int amount;
    int count;
};

int transfers_done = 0;

void run_batch(const batch& b, aio::queue<std::string>& receipts) {
    for (int i = 0; i < b.count; ++i) {
        transfer(*b.from, *b.to, b.amount);
        ++transfers_done;
        receipts.put(std::string(b.from->owner) + " paid " + std::to_string(b.amount) + " to " +
                     b.to->owner);
    }
}

// Sends a receipt for each transfer done (a healthy task: it waits for work on a queue).
void receipt_sender(aio::queue<std::string>& receipts, int& sent) {
    for (;;) {
        std::string receipt = receipts.get();
        aio::sleep(5ms);  // the mail server
        ++sent;
        receipts.task_done();
    }
}

// Says the service is alive (a healthy task: it waits on a timer).
void heartbeat(int total) {
    for (;;) {
        aio::sleep(500ms);
        lesson::say("heartbeat: alive; %d of %d transfers done", transfers_done, total);
    }
}

int main() {
    aio::run([] {
        lesson::start();
        const batch batches[] = {
            {"payroll", &alice, &bob, 100, 3},
            {"refunds", &bob, &alice, 30, 3},
            {"fees", &carol, &alice, 10, 3},
        };
        int total = 0;
        int expected[4] = {0, db::balances[1], db::balances[2], db::balances[3]};
        for (const auto& b : batches) {
            total += b.count;
            expected[b.from->id] -= b.amount * b.count;
            expected[b.to->id] += b.amount * b.count;
        }
        lesson::say("payments service started (pid %d): %d transfers in 3 batches", ::getpid(),
                    total);

        aio::queue<std::string> receipts;
        int sent = 0;
        auto sender = aio::create_task(aio::task_options{.name = "receipt_sender"}, receipt_sender,
                                       std::ref(receipts), std::ref(sent));
        auto beat = aio::create_task(aio::task_options{.name = "heartbeat"}, heartbeat, total);
        std::vector<aio::task<void>> runs;
        for (const auto& b : batches) {
            runs.push_back(aio::create_task(aio::task_options{.name = b.name}, run_batch,
                                            std::cref(b), std::ref(receipts)));
        }
        aio::gather(runs);
        receipts.join();  // every receipt handed to the mail server
        lesson::stop(beat);
        lesson::stop(sender);

        lesson::say("transfers done: %d of %d; receipts sent: %d", transfers_done, total, sent);
        lesson::say("balances: alice %d, bob %d, carol %d (expected %d, %d, %d)", db::balances[1],
                    db::balances[2], db::balances[3], expected[1], expected[2], expected[3]);
        bool match = true;
        for (int id = 1; id <= 3; ++id) {
            match = match && db::balances[id] == expected[id];
        }
        lesson::say(match ? "check: the balances match the transfers done"
                          : "check: the balances do not match the transfers done: updates were "
                            "lost or transfers silently dropped");
    });
}
