// task_group, as asyncio.TaskGroup (3.12):
//  - a child that fails records its exception, cancels its siblings ("aborting") and, once,
//    the parent task, so the body stops at its next yield point;
//  - exit waits for every child; a cancellation of the parent while it waits aborts the group
//    (and is raised afterwards unless it was the group's own);
//  - the group's own cancellation of the parent is withdrawn with uncancel() at exit;
//  - errors are raised together as exception_group; a cancelled child is not an error;
//  - when errors win over a cancellation of the parent from outside, that cancellation is
//    re-armed (uncancel + cancel, as asyncio 3.13) so the parent's next yield point raises it.
#include "loop_core.hpp"

#include <aio/task_group.hpp>

#include <algorithm>

namespace aio {

namespace {

bool is_cancellation(const std::exception_ptr& e) {
    try {
        std::rethrow_exception(e);
    } catch (const cancelled_error&) {
        return true;
    } catch (...) {
        return false;
    }
}

}  // namespace

task_group::~task_group() {
    // exit() has run (with_task_group always calls it), so no child and no callback is left.
    AIO_ASSERT(children_.empty() && callbacks_pending_ == 0);
}

void task_group::check_open() const {
    detail::check_thread(parent_, "aio::task_group::create_task");
    if (aborting_) {
        throw usage_error("task_group is shutting down after a child failed; no new task can "
                          "be started in it");
    }
    if (exiting_ && children_.empty()) {
        throw usage_error("task_group is finished; start new tasks in a new with_task_group");
    }
}

void task_group::adopt(const task_ref& child) {
    detail::task_base* b = child.base();
    // The group awaits its children and retrieves their failures: dropping a child's handle
    // is not a never-awaited task.
    b->observed_ = true;
    children_.emplace_back(b);
    ++callbacks_pending_;
    child.add_done_callback([this](task_ref t) { on_child_done(t.base()); });
}

void task_group::on_child_done(detail::task_base* child) noexcept {
    --callbacks_pending_;
    auto it = std::find_if(children_.begin(), children_.end(),
                           [&](const detail::task_ptr& p) { return p.get() == child; });
    detail::task_ptr keep;
    if (it != children_.end()) {
        keep = std::move(*it);
        children_.erase(it);
    }
    if (joiner_ != nullptr) {
        detail::notify(*joiner_);
    }
    if (child->outcome_ != detail::task_outcome::exception) {
        return;
    }
    child->exception_retrieved_ = true;
    errors_.push_back(child->exception_);
    if (!aborting_ && !parent_cancel_requested_) {
        abort();
        parent_cancel_requested_ = true;
        detail::cancel(*parent_, "a task of the task_group failed");
    }
}

void task_group::abort() noexcept {
    aborting_ = true;
    for (auto& c : children_) {
        if (!c->done()) {
            detail::cancel(*c, "a task of the task_group failed");
        }
    }
}

void task_group::exit(std::exception_ptr body_error) {
    exiting_ = true;
    std::exception_ptr propagate_cancel;
    const bool body_cancelled = body_error && is_cancellation(body_error);
    if (body_cancelled) {
        propagate_cancel = body_error;
    }
    if (body_error && !aborting_) {
        abort();
    }
    while (callbacks_pending_ > 0) {
        detail::waiter w{parent_};
        joiner_ = &w;
        parent_->waiting_object_ = this;  // for the inspector: whose children it waits for
        bool notified = detail::park_or_cancelled(*parent_, "aio::task_group");
        joiner_ = nullptr;
        if (!notified) {
            // Cancelled while waiting for the children.
            std::string message = parent_->cancel_message_;
            parent_->must_cancel_ = false;
            ++parent_->cancels_delivered_;
            if (!aborting_) {
                propagate_cancel = std::make_exception_ptr(cancelled_error(message));
                abort();
            }
        }
    }
    if (parent_cancel_requested_) {
        if (task_ref(parent_).uncancel() == 0) {
            propagate_cancel = nullptr;  // the only cancellation was the group's own
        }
    }
    if (propagate_cancel && errors_.empty()) {
        std::rethrow_exception(propagate_cancel);
    }
    if (body_error && !body_cancelled) {
        errors_.push_back(body_error);  // as asyncio: the body's failure joins the group
    }
    if (!errors_.empty()) {
        if (parent_->cancel_requests_ > 0) {
            // Cancelled from outside while the group handled its errors: the errors are raised
            // now, and the cancellation stays owed instead of being lost.
            std::string message = parent_->cancel_message_;
            task_ref(parent_).uncancel();
            detail::cancel(*parent_, message);
        }
        std::vector<std::exception_ptr> errors;
        errors.swap(errors_);
        throw exception_group("unhandled errors in a task_group", std::move(errors));
    }
}

}  // namespace aio
