# irqdiff_guest_image(TARGET lib NAME ident ISA aarch64|x86_64 SOURCE file.S BASE 0xADDR)
#
# Assembles a guest program with Debian's binutils (aarch64-linux-gnu-as/ld/objcopy/nm from
# binutils-aarch64-linux-gnu for AArch64, the host's as/ld for x86-64), links it to run at BASE,
# and adds to TARGET a generated C++ file that defines
#   const irqdiff::GuestImage& irqdiff::guest_images::<NAME>();
# with the program's bytes and its global symbols (docs/guests.md).
set(IRQDIFF_GUEST_IMAGE_SCRIPT ${CMAKE_CURRENT_LIST_DIR}/embed_guest_image.cmake)

function(irqdiff_guest_image)
  cmake_parse_arguments(G "" "TARGET;NAME;ISA;SOURCE;BASE" "" ${ARGN})
  if(G_ISA STREQUAL "aarch64")
    set(prefix aarch64-linux-gnu-)
    set(isa_enum Arm64)
    set(as_flags)
  elseif(G_ISA STREQUAL "x86_64")
    set(prefix "")
    set(isa_enum X86_64)
    set(as_flags --64)
  else()
    message(FATAL_ERROR "irqdiff_guest_image: ISA must be aarch64 or x86_64, not '${G_ISA}'")
  endif()
  foreach(tool as ld objcopy nm)
    string(TOUPPER "IRQDIFF_${G_ISA}_${tool}" var)
    find_program(${var} ${prefix}${tool})
    if(NOT ${var})
      message(FATAL_ERROR "${prefix}${tool} not found: the ${G_ISA} guest programs are assembled with Debian's "
                          "binutils (run scripts/install-deps.sh as root)")
    endif()
    set(${tool} ${${var}})
  endforeach()
  set(src ${CMAKE_CURRENT_SOURCE_DIR}/${G_SOURCE})
  set(out ${CMAKE_CURRENT_BINARY_DIR}/guest_${G_NAME})
  add_custom_command(
    OUTPUT ${out}.cc
    COMMAND ${as} ${as_flags} -o ${out}.o ${src}
    COMMAND ${ld} -N -nostdlib -static --no-warn-rwx-segments -e _start -Ttext=${G_BASE} -o ${out}.elf ${out}.o
    COMMAND ${objcopy} -O binary ${out}.elf ${out}.bin
    COMMAND ${nm} --defined-only -g ${out}.elf > ${out}.sym
    COMMAND ${CMAKE_COMMAND} -DNAME=${G_NAME} -DISA=${isa_enum} -DBASE=${G_BASE} -DBIN=${out}.bin -DSYM=${out}.sym
            -DOUT=${out}.cc -P ${IRQDIFF_GUEST_IMAGE_SCRIPT}
    DEPENDS ${src} ${IRQDIFF_GUEST_IMAGE_SCRIPT}
    COMMENT "Assembling guest program ${G_NAME} (${G_ISA})"
    VERBATIM)
  target_sources(${G_TARGET} PRIVATE ${out}.cc)
endfunction()
