// Entry points of the `sampan` subcommands. Each receives argv with argv[0] set
// to "sampan <subcommand>" and returns the process exit code.
#pragma once

namespace sampan::cmd {

int ServerMain(int argc, char** argv);   // cmd/server.cc: control plane (+ local agent)
int RuntimeMain(int argc, char** argv);  // cmd/runtime.cc: runc-compatible OCI runtime
int ImageMain(int argc, char** argv);    // cmd/image.cc: the node's image store
int AgentMain(int argc, char** argv);    // cmd/agent.cc: node agent (kubelet)
int HollowNodesMain(int argc, char** argv);  // cmd/hollow.cc: simulated nodes
int SchedulerMain(int argc, char** argv);    // cmd/control.cc: the scheduler on its own
int ControllerManagerMain(int argc, char** argv);  // cmd/control.cc: the controllers on their own
int StreamingTestNodeMain(int argc, char** argv);  // cmd/stream_test_node.cc: test fixture

}  // namespace sampan::cmd
