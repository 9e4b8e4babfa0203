# The micro-workloads of the H200 partition corpus (traces/corpus/h200/micro_<case>_sm<N>.uvmt): each case's
# uvm_micro arguments. Sourced by record_partitions.sh and record_lines.sh.
# shellcheck disable=SC2034
declare -A micro_args=(
  [seq_64m]="--pattern seq --bytes 64MiB --host-init"
  [random_64m]="--pattern random --bytes 64MiB --host-init"
  [strided_64m]="--pattern strided --bytes 64MiB --host-init"
  [dense_64m]="--pattern seq --bytes 64MiB --host-init --threads-per-cta 1"
  [shared_64m]="--pattern seq --bytes 64MiB --host-init --sharers 2"
  [seq_256m]="--pattern seq --bytes 256MiB --host-init"
  [chain_16m]="--pattern chain --bytes 16MiB"
)
