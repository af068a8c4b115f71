// <linux/virtio_net.h> for C++: its control-queue header has a field named
// `class`, a C++ keyword. Include this instead of the uapi header.
#pragma once

#define class class_  // struct virtio_net_ctrl_hdr::class
#include <linux/virtio_net.h>
#undef class
