// The transfer-point table (arm/kvm/transfer.h): each arm.transfer value, the hook it transfers
// at, and its source; and the hook itself, which runs the 12df7429213a sequence (Kvm::transfer)
// over the LPIs its site names.
#include "arm_gic/kvm/transfer.h"

#include <stdexcept>
#include <string>
#include <vector>

#include "arm_gic/kvm/kvm.h"

namespace irqdiff::arm::kvm {

namespace {

struct TransferRow {
    TransferPoint point;
    const char* value;                 // the arm.transfer value
    std::optional<TransferHook> hook;  // where it transfers (none: nowhere)
    const char* source;                // where the choice comes from
};

// The project's central question in one table: where does restored pending state of a forwarded
// vLPI move into the VPT? (reference/arm §3, the 2020-21 review of 12df7429213a.)
constexpr TransferRow kTransferTable[] = {
    {TransferPoint::None, "none", std::nullopt,
     "5.13 without the transfer, a control (Linux < 5.13 is arm.transfer=none with arm.save=refuse)"},
    {TransferPoint::ItsRestore, "its_restore", TransferHook::ItsRestoreTables,
     "suggested in review (Marc Zyngier 2020-11-24)"},
    {TransferPoint::EnableLpis, "enable_lpis", TransferHook::EnableLpis, "proposed 2020-12-08 (Shenming Lu)"},
    {TransferPoint::SetForwarding, "set_forwarding", TransferHook::SetForwarding,
     "kvm_vgic_v4_set_forwarding, 12df7429213a (Linux 5.13)"},
    {TransferPoint::VmStart, "vm_start", TransferHook::VmStart, "new userspace call, rejected as ABI"},
};

const TransferRow& row(TransferPoint point) {
    for (const TransferRow& r : kTransferTable)
        if (r.point == point) return r;
    throw std::logic_error("arm.transfer: a transfer point without a row");
}

}  // namespace

namespace {

std::vector<Policy<TransferPoint>::Choice> transfer_choices() {
    std::vector<Policy<TransferPoint>::Choice> out;
    for (const TransferRow& r : kTransferTable) out.push_back({r.value, r.point});
    return out;
}

// "VALUE: SOURCE; ..." over the table, the policy's reference.
const std::string kTransferRef = [] {
    std::string out;
    for (const TransferRow& r : kTransferTable) out += std::string(out.empty() ? "" : "; ") + r.value + ": " + r.source;
    return out;
}();

}  // namespace

const Policy<TransferPoint> kTransferPolicy{"arm.transfer",
                                            "arm",
                                            transfer_choices(),
                                            TransferPoint::SetForwarding,
                                            "where restored pending_latch of a forwarded vLPI is pushed into the VPT",
                                            kTransferRef};

const char* to_string(TransferPoint t) { return row(t).value; }

TransferPoint transfer_point(const PolicyValues& policy) { return kTransferPolicy.read(policy); }

bool transfers_at(TransferPoint point, TransferHook hook) { return row(point).hook == hook; }

const char* transfer_site(TransferHook hook) {
    switch (hook) {
        case TransferHook::ItsRestoreTables: return "its_restore_tables";
        case TransferHook::EnableLpis: return "vgic_enable_lpis";
        case TransferHook::SetForwarding: return "set_forwarding";
        case TransferHook::VmStart: return "vm_start";
    }
    return "?";
}

void Kvm::transfer_hook(TransferHook hook, VgicIrq& irq) {
    if (transfers_at(transfer_, hook)) transfer(irq, transfer_site(hook));
}

void Kvm::transfer_hook(TransferHook hook, std::optional<uint32_t> vcpu) {
    if (!transfers_at(transfer_, hook)) return;
    for (auto& [intid, irq] : s_.lpis)
        if (!vcpu || irq.target_vcpu == *vcpu) transfer(irq, transfer_site(hook));
}

}  // namespace irqdiff::arm::kvm
