# Runs ember-graph on the files graph_demo writes: show, dot, run (whose
# output must equal the eager result byte for byte), and its refusals.
# Called as: cmake -DTOOL=... -DDEMO=... -DDIR=... -P test_ember_graph.cmake
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})

function(run_ok)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${ARGN} failed (${rc}): ${err}")
  endif()
  set(out "${out}" PARENT_SCOPE)
endfunction()

function(run_fails expected)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_QUIET
                  ERROR_VARIABLE err)
  if(rc EQUAL 0)
    message(FATAL_ERROR "${ARGN} succeeded, expected a failure")
  endif()
  string(FIND "${err}" "${expected}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "${ARGN}: stderr lacks '${expected}': ${err}")
  endif()
endfunction()

run_ok(${DEMO} ${DIR})
run_ok(${TOOL} show ${DIR}/demo.emg)
foreach(want "function: demo" "inputs: float32[2,3]" "outputs: float32[2,3]"
             "v: float32[3] (trainable)" "graph demo(" "relu(")
  string(FIND "${out}" "${want}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "show lacks '${want}':\n${out}")
  endif()
endforeach()
run_ok(${TOOL} dot ${DIR}/demo.emg)
string(FIND "${out}" "digraph \"demo\"" at)
if(at EQUAL -1)
  message(FATAL_ERROR "dot output:\n${out}")
endif()
run_ok(${TOOL} run ${DIR}/demo.emg --input ${DIR}/x.npy
       --output ${DIR}/y.npy)
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files ${DIR}/y.npy
                ${DIR}/expected.npy RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(FATAL_ERROR "ember-graph run: y.npy differs from expected.npy")
endif()

run_fails("usage" ${TOOL})
run_fails("unknown command" ${TOOL} frobnicate ${DIR}/demo.emg)
run_fails("cannot open" ${TOOL} show ${DIR}/missing.emg)
run_fails("not an ember graph file" ${TOOL} show ${DIR}/x.npy)
run_fails("takes 1 inputs and returns 1 outputs" ${TOOL} run ${DIR}/demo.emg
          --output ${DIR}/y.npy)
run_fails("not a .npy file" ${TOOL} run ${DIR}/demo.emg --input
          ${DIR}/demo.emg --output ${DIR}/y.npy)
file(REMOVE_RECURSE ${DIR})
