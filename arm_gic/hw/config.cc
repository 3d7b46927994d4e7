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

const Policy<GicVersion> kGicVersionPolicy{
    "arm.gic",
    "arm",
    {{"v4.1", GicVersion::V4_1}, {"v4.0", GicVersion::V4_0}},
    GicVersion::V4_1,
    "host GIC version: v4.0 cannot read the VPT back and fails ITS save for forwarded ITEs",
    "IHI 0069 VMAPP {V,Alloc}={0,1}; vgic_its_save_itt (8082d50f4817); vgic_v3_save_pending_tables"};

const Policy<ErrorResponse> kCommandErrorPolicy{
    "arm.its_command_error",
    "arm",
    {{"ignore", ErrorResponse::Ignore}, {"stall", ErrorResponse::Stall}},
    ErrorResponse::Ignore,
    "what the ITS does with a command whose parameters are bad: drop it and go on, or stall the queue",
    "IHI 0069 ITS command errors are CONSTRAINED UNPREDICTABLE (ignore, or stall with GITS_CREADR.Stalled); "
    "QEMU hw/intc/arm_gicv3_its.c continues after parameter errors"};

const Policy<ErrorResponse> kTableFaultPolicy{
    "arm.its_table_fault",
    "arm",
    {{"stall", ErrorResponse::Stall}, {"ignore", ErrorResponse::Ignore}},
    ErrorResponse::Stall,
    "what the ITS does when a table or queue access faults (address outside memory)",
    "IHI 0069 CONSTRAINED UNPREDICTABLE (ignore or stall); QEMU hw/intc/arm_gicv3_its.c stalls on a memory "
    "transaction error"};

const Policy<VptWriteback> kVptWritebackPolicy{
    "arm.vpt_writeback",
    "arm",
    {{"on_unmap", VptWriteback::OnUnmap},
     {"on_deschedule", VptWriteback::OnDeschedule},
     {"eager", VptWriteback::Eager}},
    VptWriteback::OnUnmap,
    "when the redistributor writes cached VPT bits back to memory (a read at another time can be stale)",
    "IHI 0069 via Marc Zyngier 2020-12-01: only VMAPP {V,Alloc}={0,1} cleans the VPT cache; de-schedule gives no "
    "such guarantee (reference/arm §1.5)"};

const Policy<unsigned> kListRegistersPolicy{
    "arm.list_registers",
    "arm",
    {{"4", 4}, {"16", 16}},
    4,
    "how many list registers each CPU interface has (ICH_LR<n>_EL2); with more pending software interrupts "
    "than list registers KVM keeps the rest on the ap_list (KVM.lr_overflow)",
    "IHI 0069 ICH_VTR_EL2.ListRegs: the number of list registers minus one, IMPLEMENTATION DEFINED (1 to 16); "
    "vgic_flush_lr_state fills at most kvm_vgic_global_state.nr_lr"};

const Policy<unsigned> kVpendbaserDirtyPolicy{
    "arm.vpendbaser_dirty_reads",
    "arm",
    {{"1", 1}, {"0", 0}, {"3", 3}},
    1,
    "how many GICR_VPENDBASER reads after a vPE is scheduled or de-scheduled still see Dirty = 1 (the "
    "redistributor is parsing the VPT, or processing the de-schedule: PendingLast is not yet valid)",
    "IHI 0069 GICR_VPENDBASER.Dirty: processing a change of Valid is asynchronous and its length IMPLEMENTATION "
    "DEFINED; Linux its_wait_vpt_parse_complete polls Dirty after a schedule, its_clear_vpend_valid after a "
    "de-schedule (reference/arm §1.3)"};

GicConfig GicConfig::from_policy(const PolicyValues& policy) {
    GicConfig c;
    c.version = kGicVersionPolicy.read(policy);
    c.command_error = kCommandErrorPolicy.read(policy);
    c.table_fault = kTableFaultPolicy.read(policy);
    c.vpt_writeback = kVptWritebackPolicy.read(policy);
    c.list_registers = kListRegistersPolicy.read(policy);
    c.dirty_reads = kVpendbaserDirtyPolicy.read(policy);
    return c;
}

}  // namespace irqdiff::arm
