#include "x86_pi/vmm/apic.h"

namespace irqdiff::x86::vmm {

namespace {

void set_reg(kvm::LapicImage& image, uint32_t offset, uint32_t value) {
    for (unsigned i = 0; i < 4; ++i) image.regs.at(offset + i) = static_cast<uint8_t>(value >> (8 * i));
}

}  // namespace

ApicState kvm_get_apic_state(const kvm::LapicImage& image) {
    ApicState s;
    s.apicbase = image.apic_base;
    s.id = static_cast<uint8_t>(image.reg(apic::ID) >> 24);
    s.tpr = static_cast<uint8_t>(image.reg(apic::TPR));
    s.arb_id = static_cast<uint8_t>(image.reg(apic::ARBPRI));
    s.log_dest = static_cast<uint8_t>(image.reg(apic::LDR) >> 24);
    s.dest_mode = static_cast<uint8_t>(image.reg(apic::DFR) >> 28);
    s.spurious_vec = image.reg(apic::SVR);
    for (uint32_t i = 0; i < 8; ++i) {
        s.isr[i] = image.reg(apic::ISR + 0x10 * i);
        s.tmr[i] = image.reg(apic::TMR + 0x10 * i);
        s.irr[i] = image.reg(apic::IRR + 0x10 * i);
    }
    s.esr = image.reg(apic::ESR);
    s.icr[0] = image.reg(apic::ICR_LO);
    s.icr[1] = image.reg(apic::ICR_HI);
    for (uint32_t i = 0; i < s.lvt.size(); ++i) s.lvt[i] = image.reg(apic::LVT_TIMER + 0x10 * i);
    s.initial_count = image.reg(apic::TMICT);
    s.divide_conf = image.reg(apic::TDCR);
    s.soft = image.soft;
    return s;
}

kvm::LapicImage kvm_put_apic_state(const ApicState& s) {
    kvm::LapicImage image;  // memset(kapic, 0, sizeof(*kapic))
    image.apic_base = s.apicbase;
    set_reg(image, apic::ID, static_cast<uint32_t>(s.id) << 24);
    set_reg(image, apic::TPR, s.tpr);
    set_reg(image, apic::LDR, static_cast<uint32_t>(s.log_dest) << 24);
    set_reg(image, apic::DFR, static_cast<uint32_t>(s.dest_mode) << 28 | 0x0FFF'FFFFu);
    set_reg(image, apic::SVR, s.spurious_vec);
    for (uint32_t i = 0; i < 8; ++i) {
        set_reg(image, apic::ISR + 0x10 * i, s.isr[i]);
        set_reg(image, apic::TMR + 0x10 * i, s.tmr[i]);
        set_reg(image, apic::IRR + 0x10 * i, s.irr[i]);
    }
    set_reg(image, apic::ESR, s.esr);
    set_reg(image, apic::ICR_LO, s.icr[0]);
    set_reg(image, apic::ICR_HI, s.icr[1]);
    for (uint32_t i = 0; i < s.lvt.size(); ++i) set_reg(image, apic::LVT_TIMER + 0x10 * i, s.lvt[i]);
    set_reg(image, apic::TMICT, s.initial_count);
    set_reg(image, apic::TDCR, s.divide_conf);
    image.soft = s.soft;
    return image;
}

}  // namespace irqdiff::x86::vmm
