# The parameters bench-peers.sh, count-instructions.sh and smoke_test.sh
# share, declared once (sourced, not run). Each can be set in the
# environment.

# PEERS_BATCHES: the --batch values, space separated: buffers a device
# publishes per used-ring flush in our programs, an rte_ring burst, and
# (with --sleep only) buffers per kick in ringtest's main.c. Default "1 32":
# the two targets (virtiosim issue #12).
peers_batches=${PEERS_BATCHES:-1 32}

# PEERS_RING_SIZE: entries of every ring. Default 256: ringtest's own
# default and the issue's.
peers_ring_size=${PEERS_RING_SIZE:-256}

# The ringtest-interface rings, each of ours right after the ringtest ring
# it is compared with, and those comparisons (ours/theirs); then ours
# against the rte_ring floor (bench-peers.sh only).
peers_rings=(ring virtiosim_packed virtio_ring_0_9 virtiosim_split virtio_ring_inorder virtiosim_split_inorder)
peers_pairs=(virtiosim_packed/ring virtiosim_split/virtio_ring_0_9 virtiosim_split_inorder/virtio_ring_inorder)
peers_floor_pairs=(virtiosim_packed/rte_ring virtiosim_split/rte_ring)
