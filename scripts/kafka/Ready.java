import java.util.List;
import java.util.Properties;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.errors.GroupIdNotFoundException;

/**
 * Readiness probe of scripts/kafka.sh: `java Ready HOST:PORT SECONDS` exits 0 once the broker
 * answers a real client, 1 when it did not within SECONDS. Ready means: the cluster lists a
 * broker (it is registered and serves metadata) AND the group coordinator answers for a group
 * (so __consumer_offsets exists and consumer groups can join at once). An open port is not enough.
 */
public final class Ready {
  public static void main(String[] args) throws Exception {
    if (args.length != 2) {
      System.err.println("usage: java Ready HOST:PORT SECONDS");
      System.exit(2);
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(Long.parseLong(args[1]));
    Properties props = new Properties();
    props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
    props.put(AdminClientConfig.CLIENT_ID_CONFIG, "blindvote-kafka-ready");
    props.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, "3000");
    props.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, "5000");
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MS_CONFIG, "100");
    props.put(AdminClientConfig.RECONNECT_BACKOFF_MAX_MS_CONFIG, "500");
    String last = "no answer";
    try (Admin admin = Admin.create(props)) {
      while (System.nanoTime() < deadline) {
        try {
          if (!admin.describeCluster().nodes().get(5, TimeUnit.SECONDS).isEmpty()) {
            try {
              admin.describeConsumerGroups(List.of("blindvote-kafka-ready")).all().get(5, TimeUnit.SECONDS);
            } catch (ExecutionException e) {
              // Kafka 4 answers "no such group" for a group never used: the coordinator answered.
              if (!(e.getCause() instanceof GroupIdNotFoundException)) throw e;
            }
            System.exit(0);
          }
          last = "no broker registered yet";
        } catch (Exception e) {
          last = String.valueOf(e.getCause() != null ? e.getCause() : e);
        }
        Thread.sleep(200);
      }
    }
    System.err.println("kafka ready: " + args[0] + " not ready: " + last);
    System.exit(1);
  }
}
