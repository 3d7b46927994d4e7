#include "arm_gic/hw/config.h"

namespace irqdiff::arm {

const char* to_string(GicVersion v) { return v == GicVersion::V4_1 ? "v4.1" : "v4.0"; }
const char* to_string(ErrorResponse r) { return r == ErrorResponse::Stall ? "stall" : "ignore"; }

const char* to_string(VptWriteback w) {
    switch (w) {
        case VptWriteback::OnUnmap: return "on_unmap";
        case VptWriteback::OnDeschedule: return "on_deschedule";
        case VptWriteback::Eager: return "eager";
    }
    return "?";
}

GicConfig GicConfig::from_policy(const PolicyValues& policy) {
    GicConfig c;
    c.version = policy.is("arm.gic", "v4.0") ? GicVersion::V4_0 : GicVersion::V4_1;
    c.command_error = policy.is("arm.its_command_error", "stall") ? ErrorResponse::Stall : ErrorResponse::Ignore;
    c.table_fault = policy.is("arm.its_table_fault", "ignore") ? ErrorResponse::Ignore : ErrorResponse::Stall;
    const std::string& wb = policy.get("arm.vpt_writeback");
    c.vpt_writeback = wb == "eager"           ? VptWriteback::Eager
                      : wb == "on_deschedule" ? VptWriteback::OnDeschedule
                                              : VptWriteback::OnUnmap;
    return c;
}

}  // namespace irqdiff::arm
