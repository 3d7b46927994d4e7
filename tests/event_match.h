// Finding logged events by their declarations (core/trace_point.h). Tests name a declaration
// (arm::tp::kItsVmapp), never an op string, so a renamed or retyped event is a compile error and an
// `EXPECT_EQ(count, 0)` cannot pass because the op it looks for is no longer logged under that name.
// An op that several declarations share (a command error and its table fault, an op and its
// ignored variant) is named by the ones a test means: `{tp::kItsVmappError, tp::kItsVmappFault}`.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <vector>

#include "core/event_log.h"

namespace irqdiff {

/// The declarations an event may come from.
class Points {
   public:
    Points(const TracePointInfo& point) : points_{&point} {}
    Points(std::initializer_list<std::reference_wrapper<const TracePointInfo>> points) {
        for (const TracePointInfo& p : points) points_.push_back(&p);
    }

    bool matches(const Event& e) const { return std::find(points_.begin(), points_.end(), e.point) != points_.end(); }
    /// Whether some declaration has argument `key` (a key a test asks for that none declares is a
    /// typo or a rename).
    bool declares(std::string_view key) const {
        return std::any_of(points_.begin(), points_.end(), [&](const TracePointInfo* p) {
            return std::any_of(p->args.begin(), p->args.end(), [&](const ArgSpec& a) { return a.key == key; });
        });
    }
    const std::vector<const TracePointInfo*>& points() const { return points_; }

   private:
    std::vector<const TracePointInfo*> points_;
};

/// The events of `points` from position `from` on whose arguments include every (key, value) of
/// `with`; a key none of them declares fails the test.
inline std::vector<const Event*> find_events(const std::vector<Event>& events, const Points& points,
                                             const std::vector<EventArg>& with = {}, size_t from = 0) {
    for (const EventArg& w : with)
        if (!points.declares(w.key)) ADD_FAILURE() << "no declaration of the event has an argument '" << w.key << "'";
    std::vector<const Event*> out;
    for (size_t i = from; i < events.size(); ++i) {
        const Event& e = events[i];
        if (!points.matches(e)) continue;
        bool all = std::all_of(with.begin(), with.end(), [&](const EventArg& want) {
            return std::find(e.args.begin(), e.args.end(), want) != e.args.end();
        });
        if (all) out.push_back(&e);
    }
    return out;
}

inline size_t count_events(const std::vector<Event>& events, const Points& points, size_t from = 0) {
    return find_events(events, points, {}, from).size();
}

/// The last event of `points`, or nullptr.
inline const Event* last_event(const std::vector<Event>& events, const Points& points) {
    for (auto it = events.rbegin(); it != events.rend(); ++it)
        if (points.matches(*it)) return &*it;
    return nullptr;
}

}  // namespace irqdiff
