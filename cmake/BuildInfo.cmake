# Generates ${CMAKE_BINARY_DIR}/generated/build_info.cpp at every build (the
# file is rewritten only when its content changes): the source revision and
# whether the tree had changes, the compiler and the versions of the libraries
# built against. The command links it (cli/build_info.hpp).
set(ISOTOPE_SOURCE_REVISION "" CACHE STRING
    "Source revision to record when building outside a git checkout (e.g. from a release archive)")
set(ISOTOPE_BUILD_INFO_CPP ${CMAKE_BINARY_DIR}/generated/build_info.cpp)
add_custom_target(isotope_build_info
  COMMAND ${CMAKE_COMMAND}
          -DSOURCE_DIR=${PROJECT_SOURCE_DIR}
          -DOUT=${ISOTOPE_BUILD_INFO_CPP}
          -DREVISION_OVERRIDE=${ISOTOPE_SOURCE_REVISION}
          "-DCOMPILER=${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER_VERSION}"
          -DBUILD_TYPE=${CMAKE_BUILD_TYPE}
          -DSENTENCEPIECE_VERSION=${SENTENCEPIECE_VERSION}
          -DSODIUM_VERSION=${SODIUM_VERSION}
          -DOPENSSL_VERSION=${OPENSSL_VERSION}
          -DJSON_VERSION=${nlohmann_json_VERSION}
          -DCLI11_VERSION=${CLI11_VERSION}
          -P ${PROJECT_SOURCE_DIR}/cmake/build_info_gen.cmake
  BYPRODUCTS ${ISOTOPE_BUILD_INFO_CPP}
  COMMENT "Recording the source revision"
  VERBATIM)
