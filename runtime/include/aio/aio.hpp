// The whole aio API in one include.
#pragma once

#include <aio/barrier.hpp>
#include <aio/condition.hpp>
#include <aio/errors.hpp>
#include <aio/event.hpp>
#include <aio/every.hpp>
#include <aio/executor.hpp>
#include <aio/gather.hpp>
#include <aio/instrument.hpp>
#include <aio/lock.hpp>
#include <aio/loop.hpp>
#include <aio/queue.hpp>
#include <aio/retry.hpp>
#include <aio/run.hpp>
#include <aio/semaphore.hpp>
#include <aio/server.hpp>
#include <aio/shield.hpp>
#include <aio/signals.hpp>
#include <aio/sleep.hpp>
#include <aio/ssl.hpp>
#include <aio/stream.hpp>
#include <aio/task.hpp>
#include <aio/task_group.hpp>
#include <aio/timeout.hpp>
#include <aio/wait.hpp>
