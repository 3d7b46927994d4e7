// The transfer point (policy arm.transfer, DESIGN.md "Transfer-point policies"): after a
// migration a forwarded vLPI's restored pending state sits in pending_latch, but a forwarded LPI is
// delivered only from the VPT; something must move it. The candidate sites of the 2020-21 review
// each call a named hook (Kvm::transfer_hook); the one table in transfer.cc says which value of
// arm.transfer transfers at which hook, and where each choice comes from. This is the only place
// that compares TransferPoint values.
#pragma once

#include <cstdint>
#include <optional>

#include "core/policy.h"

namespace irqdiff::arm::kvm {

/// Where restored pending_latch of a forwarded vLPI is pushed into the VPT.
enum class TransferPoint : uint8_t {
    None,           // nowhere: a control, Linux 5.13's save side without the transfer (no kernel shipped
                    // it: Linux < 5.13 is this with arm.save=refuse, issue 15 §1.1)
    ItsRestore,     // at KVM_DEV_ARM_ITS_RESTORE_TABLES, for LPIs already forwarded (review suggestion)
    EnableLpis,     // at vgic_enable_lpis, for forwarded LPIs (Shenming Lu, 2020-12-08)
    SetForwarding,  // in kvm_vgic_v4_set_forwarding (12df7429213a, Linux 5.13)
    VmStart,        // a new call at VM start, after forwarding is set (rejected as a new ABI)
};

/// The candidate sites, each a place in KVM that calls Kvm::transfer_hook.
enum class TransferHook : uint8_t {
    ItsRestoreTables,  // vgic_its_restore_tables (KVM_DEV_ARM_ITS_RESTORE_TABLES), every LPI
    EnableLpis,        // vgic_enable_lpis, the LPIs of the vCPU whose EnableLPIs was set
    SetForwarding,     // kvm_vgic_v4_set_forwarding, the LPI just forwarded
    VmStart,           // Kvm::vm_start_transfer (the rejected VM-start call), every LPI
};

/// Policy arm.transfer (declared in transfer.cc from the table).
extern const Policy<TransferPoint> kTransferPolicy;

/// The arm.transfer value of `t`.
const char* to_string(TransferPoint t);
TransferPoint transfer_point(const PolicyValues& policy);  // kTransferPolicy.read

/// Whether `point` transfers at `hook` (the table's row for `point`).
bool transfers_at(TransferPoint point, TransferHook hook);
/// The `at` argument of the KVM.transfer_pending events a hook logs ("set_forwarding", ...).
const char* transfer_site(TransferHook hook);

}  // namespace irqdiff::arm::kvm
