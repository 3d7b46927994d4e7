// The `arm` backend: a VM with passthrough (VFIO) devices whose MSIs are forwarded as vLPIs on a
// GICv4.1 (or GICv4.0) host, driven through boot, guest runs and live migration. The source and
// destination are separate machines (Host); QEMU's save steps run on the source and its restore
// sub-steps, in the chosen order, on the destination (reference/arm §4).
//
// LiveMigration is the same backend — its migration driver, plan table and step handlers — over
// a VM machine mode built (docs/machine.md "Migration"): the save side runs on the board's
// machine, its GIC and device state is written into machine mode's stream, the source is
// destroyed, and the restore side runs on a fresh destination machine read from the stream.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "core/backend.h"
#include "core/byte_stream.h"

namespace irqdiff::arm {

struct Machine;

BackendInfo arm_backend_info();

class LiveMigration {
   public:
    struct Options {
        uint32_t vcpus = 1;
        uint32_t nr_spis = 64;
        /// The assigned (VFIO) devices, in the order of the machine's qemu.devices: guest DeviceID
        /// and number of events.
        std::vector<std::pair<uint32_t, uint32_t>> devices;
    };
    virtual ~LiveMigration() = default;
    virtual const MigrationPlan& plan() const = 0;
    /// Save step `step` (an index into plan().save_steps()) on the source.
    virtual void save_step(uint16_t step) = 0;
    /// After the last save step: the stream's GIC_ and DEVS sections; then the source is destroyed.
    virtual void write_stream(ByteWriter& out) = 0;
    /// An incoming VM: reads the GIC_ and DEVS sections (InputError with offset and field), makes
    /// the destination machine and lets `prepare` give it its guest memory.
    virtual void incoming(ByteReader& in, const std::function<void(Machine&)>& prepare) = 0;
    /// Restore step `step` (an index into plan().restore_steps()) on the destination.
    virtual void restore_step(uint16_t step) = 0;
    /// The machine the VM is on now (the source until incoming, then the destination).
    virtual Machine& active() = 0;
    /// The destination, once every restore step ran.
    virtual std::unique_ptr<Machine> release_destination() = 0;
    /// QEMU exited during the save side (arm.its_save_error=abort, a failed SAVE_PENDING_TABLES).
    virtual bool vm_gone() const = 0;
};

/// `source` nullptr: an incoming VM only (`irqdiff machine --restore`). `policy` is resolved
/// against the arm backend's catalogue (arm.gic, arm.transfer, ...).
std::unique_ptr<LiveMigration> make_live_migration(const LiveMigration::Options& options, const PolicyValues& policy,
                                                   EventLog& log, std::unique_ptr<Machine> source);

}  // namespace irqdiff::arm
