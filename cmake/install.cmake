# Install rules. `cmake --install build [--prefix DIR]` lays out:
#   lib/libember.so.X.Y.Z (+ soname and namelink), lib/libember.a
#   include/ember.h, include/ember/*.h
#   lib/pkgconfig/ember.pc
#   lib/cmake/ember/emberConfig.cmake, emberConfigVersion.cmake and the
#   exported targets ember::ember (shared) and ember::ember_static.
# Components: "runtime" is the shared library alone, "dev" everything else.
include(CMakePackageConfigHelpers)

set(EMBER_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ember)
set(EMBER_PC_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(TARGETS ember ember_static EXPORT emberTargets
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT runtime
          NAMELINK_COMPONENT dev
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(FILES ${PROJECT_SOURCE_DIR}/include/ember.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/ember
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR} COMPONENT dev
  FILES_MATCHING PATTERN "*.h")

# ---- CMake package --------------------------------------------------------
install(EXPORT emberTargets NAMESPACE ember::
  DESTINATION ${EMBER_CMAKE_INSTALL_DIR} COMPONENT dev)
configure_package_config_file(
  ${PROJECT_SOURCE_DIR}/cmake/emberConfig.cmake.in
  ${PROJECT_BINARY_DIR}/emberConfig.cmake
  INSTALL_DESTINATION ${EMBER_CMAKE_INSTALL_DIR})
# 0.x releases may break the API between minor versions (see the soname).
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(EMBER_VERSION_COMPATIBILITY SameMinorVersion)
else()
  set(EMBER_VERSION_COMPATIBILITY SameMajorVersion)
endif()
write_basic_package_version_file(
  ${PROJECT_BINARY_DIR}/emberConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${EMBER_VERSION_COMPATIBILITY})
install(FILES ${PROJECT_BINARY_DIR}/emberConfig.cmake
              ${PROJECT_BINARY_DIR}/emberConfigVersion.cmake
  DESTINATION ${EMBER_CMAKE_INSTALL_DIR} COMPONENT dev)

# ---- pkg-config -----------------------------------------------------------
# The prefix is only known for sure at install time (cmake --install
# --prefix overrides the configured one), so ember.pc is written then, with
# absolute paths, from a template whose other fields are filled in now.
list(JOIN EMBER_PC_REQUIRES_PRIVATE " " EMBER_PC_REQUIRES_PRIVATE_STR)
list(JOIN EMBER_PC_LIBS_PRIVATE " " EMBER_PC_LIBS_PRIVATE_STR)
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(EMBER_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(EMBER_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
set(EMBER_PC_PREFIX "@EMBER_PC_PREFIX@")
configure_file(${PROJECT_SOURCE_DIR}/cmake/ember.pc.in
  ${PROJECT_BINARY_DIR}/pkgconfig/ember.pc.in @ONLY)
install(CODE "
  set(EMBER_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/pkgconfig/ember.pc.in\"
                 \"${PROJECT_BINARY_DIR}/pkgconfig/ember.pc\" @ONLY)
  " COMPONENT dev)
install(FILES ${PROJECT_BINARY_DIR}/pkgconfig/ember.pc
  DESTINATION ${EMBER_PC_INSTALL_DIR} COMPONENT dev)
