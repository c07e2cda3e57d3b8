// The whole aio API in one include.
#pragma once

#include <aio/errors.hpp>
#include <aio/executor.hpp>
#include <aio/instrument.hpp>
#include <aio/loop.hpp>
#include <aio/run.hpp>
#include <aio/sleep.hpp>
#include <aio/task.hpp>
