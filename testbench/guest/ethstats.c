/* ethstats IFACE: prints the driver's ethtool statistics (ETHTOOL_GSTATS)
 * as name=value pairs on one line; virtio_net's per-queue counters
 * (rx_queue_0_packets, tx_queue_1_packets, ...) show which queue pairs
 * carried frames. Built statically for the guest's busybox initramfs,
 * which has no ethtool. */
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int call(int fd, const char *ifname, void *cmd) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  ifr.ifr_data = cmd;
  return ioctl(fd, SIOCETHTOOL, &ifr);
}

int main(int argc, char **argv) {
  const char *ifname = argc > 1 ? argv[1] : "eth0";
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) { perror("socket"); return 1; }
  struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
  if (call(fd, ifname, &info) < 0) { perror("ETHTOOL_GDRVINFO"); return 1; }
  unsigned n = info.n_stats;
  struct ethtool_gstrings *names = calloc(1, sizeof *names + (size_t)n * ETH_GSTRING_LEN);
  struct ethtool_stats *stats = calloc(1, sizeof *stats + (size_t)n * sizeof(__u64));
  if (!names || !stats) return 1;
  names->cmd = ETHTOOL_GSTRINGS;
  names->string_set = ETH_SS_STATS;
  names->len = n;
  stats->cmd = ETHTOOL_GSTATS;
  stats->n_stats = n;
  if (call(fd, ifname, names) < 0) { perror("ETHTOOL_GSTRINGS"); return 1; }
  if (call(fd, ifname, stats) < 0) { perror("ETHTOOL_GSTATS"); return 1; }
  for (unsigned i = 0; i < n; ++i) {
    char name[ETH_GSTRING_LEN + 1];
    memcpy(name, names->data + (size_t)i * ETH_GSTRING_LEN, ETH_GSTRING_LEN);
    name[ETH_GSTRING_LEN] = 0;
    printf("%s%s=%llu", i ? " " : "", name, (unsigned long long)stats->data[i]);
  }
  printf("\n");
  close(fd);
  return 0;
}
