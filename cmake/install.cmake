# install.cmake - `cmake --install` and CPack (.deb): the binary (its
# install() is in the top CMakeLists.txt, after the target), the flasher
# stubs copied at build time from the esptool-js package tools/setup.sh
# installs, the man page, bash completion, udev and systemd examples and the
# profile examples.  An installed espfab finds its stubs in
# <bindir>/../share/espfab/stubs (src/core/build.c).
include(GNUInstallDirs)

# The stub set: package name and version from its package.json, compiled in
# for `espfab --version` and the run record.
set(ESPFAB_STUB_PACKAGE "")
set(_pkg_json "${ESPFAB_NPM_DIR}/esptool-js/package.json")
if(EXISTS "${_pkg_json}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${_pkg_json}")
  file(READ "${_pkg_json}" _pkg)
  string(JSON _pkg_name ERROR_VARIABLE _e GET "${_pkg}" name)
  string(JSON _pkg_ver ERROR_VARIABLE _e GET "${_pkg}" version)
  set(ESPFAB_STUB_PACKAGE "${_pkg_name} ${_pkg_ver}")
endif()
target_compile_definitions(espfab_core PRIVATE
  ESPFAB_STUB_PACKAGE="${ESPFAB_STUB_PACKAGE}"
  ESPFAB_INIH_VERSION="${INIH_VERSION}")

set(_dist "${CMAKE_SOURCE_DIR}/dist")

# Stubs: copied into the build tree at build time (so a package holds the
# stubs the build saw), installed from there.
set(ESPFAB_STAGED_STUBS "${CMAKE_BINARY_DIR}/staged/stubs") # not <dir>/share/espfab/stubs: a build-tree binary must not take it for an installed one
if(EXISTS "${ESPFAB_DEFAULT_STUB_DIR}")
  file(GLOB _stub_json CONFIGURE_DEPENDS "${ESPFAB_DEFAULT_STUB_DIR}/*.json")
  add_custom_command(OUTPUT "${CMAKE_BINARY_DIR}/staged/stubs.stamp"
    COMMAND ${CMAKE_COMMAND} -E rm -rf "${ESPFAB_STAGED_STUBS}"
    COMMAND ${CMAKE_COMMAND} -E copy_directory "${ESPFAB_DEFAULT_STUB_DIR}" "${ESPFAB_STAGED_STUBS}"
    COMMAND ${CMAKE_COMMAND} -E touch "${CMAKE_BINARY_DIR}/staged/stubs.stamp"
    DEPENDS ${_stub_json} "${_pkg_json}"
    COMMENT "Staging the flasher stubs of ${ESPFAB_STUB_PACKAGE}")
  add_custom_target(espfab_stubs ALL DEPENDS "${CMAKE_BINARY_DIR}/staged/stubs.stamp")
  install(DIRECTORY "${ESPFAB_STAGED_STUBS}/" DESTINATION "${CMAKE_INSTALL_DATADIR}/espfab/stubs"
          FILES_MATCHING PATTERN "*.json")
else()
  message(WARNING "espfab: no esptool-js stubs in ${ESPFAB_DEFAULT_STUB_DIR} (run tools/setup.sh): "
                  "the install will have no flasher stubs")
endif()

# espfab(1) from the commands' own --help, at build time.
add_custom_command(OUTPUT "${CMAKE_BINARY_DIR}/staged/espfab.1"
  COMMAND ${CMAKE_COMMAND} -DESPFAB=$<TARGET_FILE:espfab> -DOUT=${CMAKE_BINARY_DIR}/staged/espfab.1
          -DVERSION=${PROJECT_VERSION} -P "${_dist}/genman.cmake"
  DEPENDS espfab "${_dist}/genman.cmake" COMMENT "Generating espfab(1)")
add_custom_target(espfab_man ALL DEPENDS "${CMAKE_BINARY_DIR}/staged/espfab.1")
install(FILES "${CMAKE_BINARY_DIR}/staged/espfab.1" DESTINATION "${CMAKE_INSTALL_MANDIR}/man1")
install(FILES "${_dist}/espfab.bash-completion" DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions"
        RENAME espfab)
install(FILES "${_dist}/60-espfab.rules" "${_dist}/espfab-station.service" "${_dist}/station.ini.example"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/espfab/examples")
install(DIRECTORY "${CMAKE_SOURCE_DIR}/profiles/" DESTINATION "${CMAKE_INSTALL_DATADIR}/espfab/profiles")
install(FILES "${CMAKE_SOURCE_DIR}/docs/errors.md" DESTINATION "${CMAKE_INSTALL_DOCDIR}" OPTIONAL)

# CPack: `cpack -G DEB` in the build directory.  Depends: the Debian 12
# runtime packages of the libraries linked (checked with apt-cache policy).
set(CPACK_PACKAGE_NAME espfab)
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "espfab maintainers <espfab@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "mass-production flashing station for Espressif chips")
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_PACKAGE_SECTION electronics)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
  "libuv1 (>= 1.44), libserialport0, libsqlite3-0 (>= 3.38), libinih1, zlib1g, libssl3, libncursesw6")
set(CPACK_PACKAGE_FILE_NAME "espfab_${PROJECT_VERSION}")
include(CPack)
