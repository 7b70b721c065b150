// Precompiled header of the test executables: the common one (src/pch.h)
// plus GoogleTest and the Asio pieces tests drive coroutines with, which
// nearly every test parses (about 2 s per file otherwise). Not for project
// headers, which change too often to be worth precompiling.
#pragma once

#include "pch.h"

#include <future>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>
#include <gtest/gtest.h>
