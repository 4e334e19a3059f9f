// schedctl-supervise: the supervisor an `exec` command runs under (see CProcessSpawn/Supervise.c).
#include "CProcessSpawn.h"

int main(int argc, char **argv) { return cps_supervise(argc, argv); }
