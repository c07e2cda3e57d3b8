// Compile-time helpers for the templates that take a callable (create_task, timeout, spawn,
// to_thread ...): they let a static_assert say what is accepted instead of a page of
// substitution failures. Not part of the API.
#pragma once

#include <type_traits>

namespace aio::detail {

/// False, but only once `T` is known: `static_assert(dependent_false<T>, "...")` fires only in
/// the branch of an `if constexpr` that is instantiated.
template <class... T>
inline constexpr bool dependent_false = false;

/// std::invoke_result_t when `Fn(Args...)` can be called, else void (so that a return type
/// built from it does not fail before the static_assert in the body can speak).
template <class Fn, class... Args>
struct invoke_result_or_void {
    using type = void;
};
template <class Fn, class... Args>
requires std::is_invocable_v<Fn, Args...>
struct invoke_result_or_void<Fn, Args...> {
    using type = std::invoke_result_t<Fn, Args...>;
};
template <class Fn, class... Args>
using invoke_result_or_void_t = typename invoke_result_or_void<Fn, Args...>::type;

}  // namespace aio::detail
