package inbond.bench;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.LongBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams peer of {@code inbond bench peers}: inbond's per-shipment fold, reduced to the
 * fields the issue names, as a Kafka Streams application. Every record of the input topic (the
 * canonical CloudEvents JSON of inbond.events, keyed by shipment ID) is folded into its shipment's
 * {@link Agg} in a persistent (RocksDB) key-value store, cached and logged to its changelog topic
 * {@code <application.id>-agg-changelog}, as a DSL {@code aggregate} would keep it. The application
 * reads the input and writes nothing but that changelog (and, under exactly_once_v2, its
 * transactions' markers and its offsets).
 *
 * <p>The fold is inbond's {@code state.Apply} restricted to: the event count (events applied, a
 * duplicate by device sequence or by ID not counted), each meter's totalizer (latest by observation
 * time) and reading count, the volume-weighted quality sums, and the status the facts reach. It
 * keeps the facts those need (device sequences, recent IDs, the latest manifest's entry type, which
 * milestones were seen), and one more count, {@code records}: every record folded, duplicates
 * included. inbond has no such field; the benchmark checks it against the records published, so an
 * engine that applies a record twice shows it even though the dedup keeps the other fields right.
 *
 * <p>Modes:
 *
 * <ul>
 *   <li>run (default): reports on stdout, one JSON object a line: start, first (its first record
 *       folded), progress every 10 ms (per partition, the next offset after the last folded), and
 *       stopped. {@code --marks FILE}: a shared memory map of, per partition, the last offset folded,
 *       the first this process folded and its count (three little-endian int64), written in the
 *       processor, so it survives SIGKILL. {@code --times FILE}: written on SIGTERM, every folded
 *       record's partition, offset and time (unix ns), three little-endian int64 each.
 *   <li>{@code --dump FILE}: reads the changelog back from its start to its end with a
 *       read_committed consumer (what a restore recovers) and writes it as one JSON object,
 *       shipment ID to aggregate, then exits.
 * </ul>
 */
public final class KStreamsPeer {
  static final String STORE = "agg";
  static final int MAX_PARTITIONS = 64;
  static final ObjectMapper JSON =
      new ObjectMapper()
          .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false)
          .setSerializationInclusion(JsonInclude.Include.NON_NULL);

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = parseArgs(argv);
    String bootstrap = a.getOrDefault("bootstrap", "127.0.0.1:9092");
    String appId = a.getOrDefault("application-id", "inbond-kstreams-peer");
    if (a.containsKey("dump")) {
      dump(bootstrap, appId + "-" + STORE + "-changelog", Path.of(a.get("dump")));
      return;
    }
    run(a, bootstrap, appId);
  }

  static Map<String, String> parseArgs(String[] argv) {
    Map<String, String> a = new HashMap<>();
    for (int i = 0; i < argv.length; i++) {
      if (!argv[i].startsWith("--") || i + 1 >= argv.length) {
        throw new IllegalArgumentException("usage: --name value ...; got " + argv[i]);
      }
      a.put(argv[i].substring(2), argv[++i]);
    }
    return a;
  }

  // ---- the aggregate ----

  /** Agg is a shipment's aggregate: the compared fields, then the facts the fold needs. */
  public static final class Agg {
    public long event_count;
    public long records;
    public String status = "undeclared";
    public TreeMap<String, Meter> meters;
    public Quality quality = new Quality();

    public TreeMap<String, Long> device_seq;
    public ArrayList<String> recent_ids; // sorted, at most 1024
    public String entry_type; // of the latest manifest
    public long manifest_at; // unix ns
    public String manifest_id;
    public boolean manifest, departed, crossed, diverted, arrived, exported, delivered;
  }

  /** Meter is one meter station: its latest totalizer by observation time. */
  public static final class Meter {
    public double cumulative;
    public long readings;
    public long last_at; // unix ns
    public double sampled; // the totalizer at its last quality sample
  }

  /** Quality holds the volume-weighted sums, as inbond's state.Quality. */
  public static final class Quality {
    public double weight;
    public double api_gravity_sum;
    public double sulfur_sum;
    public double heating_value_sum;
    public long samples;
  }

  static final int MAX_REMEMBERED_IDS = 1024; // state.MaxRememberedIDs
  static final String PREFIX = "gov.cbp.inbond.";

  /**
   * fold applies one canonical event to s, as state.Apply does for the fields Agg keeps: same
   * duplicate rules, same order of floating-point operations, same tie-breaks.
   */
  static void fold(Agg s, JsonNode e) {
    s.records++;
    if (isDuplicate(s, e)) {
      return;
    }
    s.event_count++;
    String type = e.path("type").asText();
    if (type.startsWith(PREFIX + "command.")) {
      return; // people's actions change alerts, not the movement
    }
    JsonNode d = e.path("data");
    long at = nanos(e.path("time").asText());
    switch (type.substring(PREFIX.length())) {
      case "manifest.v1" -> {
        String id = e.path("id").asText();
        if (!s.manifest || at > s.manifest_at || (at == s.manifest_at && id.compareTo(s.manifest_id) > 0)) {
          s.manifest = true;
          s.manifest_at = at;
          s.manifest_id = id;
          s.entry_type = d.path("entry_type").asText();
        }
      }
      case "telemetry.meter.v1" -> {
        Meter m = meter(s, d.path("meter").asText());
        double cum = d.path("cumulative").asDouble();
        m.readings++;
        // A totalizer never runs backwards: at equal times the larger is the later reading.
        if (m.readings == 1 || at > m.last_at || (at == m.last_at && cum > m.cumulative)) {
          m.cumulative = cum;
          m.last_at = at;
        }
      }
      case "telemetry.quality.v1" -> quality(s, d);
      case "carrier.departed.v1" -> s.departed = true;
      case "carrier.border_crossed.v1" -> s.crossed = true;
      case "carrier.diversion_approved.v1" -> s.diverted = true;
      case "carrier.arrived.v1" -> s.arrived = true;
      case "carrier.exported.v1" -> s.exported = true;
      case "carrier.delivered.v1" -> s.delivered = true;
      default -> {} // position, seal, diversion request, transfer: no field of Agg
    }
    s.status = status(s);
  }

  // status is state.Shipment.status: the furthest status the facts reach.
  static String status(Agg s) {
    if (s.exported) return "exported";
    if (s.delivered && s.manifest && "61".equals(s.entry_type)) return "concluded";
    if (s.arrived) return "arrived";
    if (s.diverted) return "diverted";
    if (s.departed || s.crossed) return "in_transit";
    if (s.manifest) return "declared";
    return "undeclared";
  }

  static Meter meter(Agg s, String id) {
    if (s.meters == null) s.meters = new TreeMap<>();
    return s.meters.computeIfAbsent(id, k -> new Meter());
  }

  // quality is state.applyQuality: a sample weighs the volume its meter passed since its previous
  // sample, or 1 when it names no meter.
  static void quality(Agg s, JsonNode d) {
    Quality q = s.quality;
    double w = 1.0;
    String id = d.path("meter").asText("");
    if (!id.isEmpty()) {
      Meter m = meter(s, id);
      if (m.cumulative > m.sampled) {
        w = m.cumulative - m.sampled;
        m.sampled = m.cumulative;
      } else if (q.samples > 0) {
        w = 0;
      }
    }
    q.samples++;
    if (w == 0) return;
    q.weight += w;
    if (d.hasNonNull("api_gravity")) q.api_gravity_sum += d.get("api_gravity").asDouble() * w;
    if (d.hasNonNull("sulfur_pct")) q.sulfur_sum += d.get("sulfur_pct").asDouble() * w;
    if (d.hasNonNull("heating_value")) q.heating_value_sum += d.get("heating_value").asDouble() * w;
  }

  // isDuplicate is state.isDuplicate: a numbered device event by its sequence, anything else by
  // its ID (the 1,024 smallest forgotten first).
  static boolean isDuplicate(Agg s, JsonNode e) {
    String device = e.path("device").asText("");
    long seq = e.path("sequence").asLong(0);
    if (!device.isEmpty() && seq != 0) {
      String k = e.path("carrier").asText() + "/" + device;
      if (s.device_seq == null) s.device_seq = new TreeMap<>();
      Long have = s.device_seq.get(k);
      if (have != null && Long.compareUnsigned(seq, have) <= 0) return true;
      s.device_seq.put(k, seq);
      return false;
    }
    String id = e.path("id").asText();
    if (s.recent_ids == null) s.recent_ids = new ArrayList<>();
    int i = Collections.binarySearch(s.recent_ids, id);
    if (i >= 0) return true;
    s.recent_ids.add(-i - 1, id);
    if (s.recent_ids.size() > MAX_REMEMBERED_IDS) {
      s.recent_ids.subList(0, s.recent_ids.size() - MAX_REMEMBERED_IDS).clear();
    }
    return false;
  }

  static long nanos(String rfc3339) {
    Instant t = OffsetDateTime.parse(rfc3339).toInstant();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  /** AggSerde stores an Agg as JSON, in the state store and its changelog. */
  static final class AggSerde implements Serde<Agg> {
    @Override
    public Serializer<Agg> serializer() {
      return (topic, v) -> {
        try {
          return v == null ? null : JSON.writeValueAsBytes(v);
        } catch (IOException ex) {
          throw new RuntimeException(ex);
        }
      };
    }

    @Override
    public Deserializer<Agg> deserializer() {
      return (topic, b) -> {
        try {
          return b == null ? null : JSON.readValue(b, Agg.class);
        } catch (IOException ex) {
          throw new RuntimeException(ex);
        }
      };
    }
  }

  // ---- the application ----

  /** Marks are three int64 per partition in a shared memory map (see the class doc). */
  static final class Marks {
    final LongBuffer m;

    Marks(String path) throws IOException {
      ByteBuffer b;
      if (path == null) {
        b = ByteBuffer.allocateDirect(3 * 8 * MAX_PARTITIONS);
      } else {
        try (RandomAccessFile f = new RandomAccessFile(path, "rw")) {
          f.setLength(0);
          f.setLength(3 * 8 * MAX_PARTITIONS);
          b = f.getChannel().map(FileChannel.MapMode.READ_WRITE, 0, 3 * 8 * MAX_PARTITIONS);
        }
      }
      m = b.order(ByteOrder.LITTLE_ENDIAN).asLongBuffer();
      for (int p = 0; p < MAX_PARTITIONS; p++) {
        m.put(3 * p, -1);
        m.put(3 * p + 1, -1);
        m.put(3 * p + 2, 0);
      }
    }

    // A partition's task runs on one stream thread at a time: the per-partition slots need no lock.
    void folded(int p, long off) {
      if (m.get(3 * p + 1) < 0) m.put(3 * p + 1, off);
      m.put(3 * p, off);
      m.put(3 * p + 2, m.get(3 * p + 2) + 1);
    }

    long next(int p) {
      return m.get(3 * p) + 1;
    }
  }

  static void run(Map<String, String> a, String bootstrap, String appId) throws Exception {
    PrintStream out = new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true);
    out.println("{\"ev\":\"start\",\"t\":" + now() + "}");
    String topic = a.getOrDefault("topic", "inbond.events");
    int partitions = Integer.parseInt(a.getOrDefault("partitions", "12"));
    String timesPath = a.get("times");
    Marks marks = new Marks(a.get("marks"));
    AtomicLong folded = new AtomicLong(), first = new AtomicLong();
    List<long[]> times = new ArrayList<>(); // per partition: offset, time, ...
    int[] timesLen = new int[MAX_PARTITIONS];
    for (int p = 0; p < MAX_PARTITIONS; p++) times.add(new long[1024]);

    Properties props = new Properties();
    props.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    props.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, a.getOrDefault("guarantee", StreamsConfig.EXACTLY_ONCE_V2));
    props.put(StreamsConfig.STATE_DIR_CONFIG, a.getOrDefault("state-dir", Files.createTempDirectory("kstreams-peer").toString()));
    // inbond flushes its state every 100 ms by default: the same cadence for both guarantees
    // (Kafka Streams' defaults are 100 ms under exactly_once_v2, 30 s under at_least_once).
    props.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, a.getOrDefault("commit-ms", "100"));
    props.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, a.getOrDefault("threads", "1"));
    props.put(StreamsConfig.REPLICATION_FACTOR_CONFIG, "1");
    // The input is read from its start, as every engine of the benchmark reads it.
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    // The benchmark's sessions are 1 s (inbond's and goka's too): a restart waits for the dead
    // member's session to expire.
    String session = a.getOrDefault("session-timeout-ms", "1000");
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), session);
    props.put(StreamsConfig.consumerPrefix(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG),
        String.valueOf(Math.max(1, Integer.parseInt(session) / 10)));
    if (a.containsKey("cache-bytes")) {
      props.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, a.get("cache-bytes"));
    }

    StoreBuilder<KeyValueStore<String, Agg>> store =
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(STORE), Serdes.String(), new AggSerde())
            .withCachingEnabled(); // as a DSL aggregate's store: cached, logged
    Topology topo = new Topology();
    topo.addSource("events", new StringDeserializer(), new ByteArrayDeserializer(), topic);
    topo.addProcessor("fold", () -> new Processor<String, byte[], Void, Void>() {
      KeyValueStore<String, Agg> kv;
      ProcessorContext<Void, Void> ctx;

      @Override
      public void init(ProcessorContext<Void, Void> context) {
        ctx = context;
        kv = context.getStateStore(STORE);
      }

      @Override
      public void process(Record<String, byte[]> r) {
        JsonNode e;
        try {
          e = JSON.readTree(r.value());
        } catch (IOException ex) {
          throw new RuntimeException("decode canonical event: " + ex.getMessage(), ex);
        }
        Agg s = kv.get(r.key());
        if (s == null) s = new Agg();
        fold(s, e);
        kv.put(r.key(), s);
        long t = now();
        RecordMetadata md = ctx.recordMetadata().orElseThrow();
        int p = md.partition();
        marks.folded(p, md.offset());
        if (timesPath != null) {
          synchronized (times) {
            long[] ts = times.get(p);
            if (timesLen[p] + 2 > ts.length) {
              ts = java.util.Arrays.copyOf(ts, ts.length * 2);
              times.set(p, ts);
            }
            ts[timesLen[p]++] = md.offset();
            ts[timesLen[p]++] = t;
          }
        }
        if (folded.incrementAndGet() == 1) first.set(t);
      }
    }, "events");
    topo.addStateStore(store, "fold");

    KafkaStreams streams = new KafkaStreams(topo, props);
    CountDownLatch stop = new CountDownLatch(1);
    Throwable[] failed = new Throwable[1];
    streams.setUncaughtExceptionHandler(ex -> {
      failed[0] = ex;
      stop.countDown();
      return org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    // SIGTERM stops the application cleanly (its last commit, the changelog flushed) and the
    // process exits 0; the JVM's default would exit 143 after the shutdown hooks.
    sun.misc.Signal.handle(new sun.misc.Signal("TERM"), sig -> stop.countDown());
    sun.misc.Signal.handle(new sun.misc.Signal("INT"), sig -> stop.countDown());
    streams.start();

    boolean sentFirst = false;
    long lastN = -1;
    while (!stop.await(10, java.util.concurrent.TimeUnit.MILLISECONDS)) {
      if (!sentFirst && first.get() != 0) {
        sentFirst = true;
        out.println("{\"ev\":\"first\",\"t\":" + first.get() + "}");
      }
      long n = folded.get();
      if (n != lastN) {
        lastN = n;
        StringBuilder sb = new StringBuilder("{\"ev\":\"progress\",\"t\":").append(now()).append(",\"n\":").append(n).append(",\"next\":[");
        for (int p = 0; p < partitions; p++) sb.append(p == 0 ? "" : ",").append(marks.next(p));
        out.println(sb.append("]}"));
      }
      if (streams.state() == KafkaStreams.State.ERROR || streams.state() == KafkaStreams.State.NOT_RUNNING) {
        break;
      }
    }
    streams.close(Duration.ofSeconds(30));
    if (failed[0] != null) {
      failed[0].printStackTrace();
      System.exit(1);
    }
    if (timesPath != null) {
      writeTimes(Path.of(timesPath), times, timesLen);
    }
    out.println("{\"ev\":\"stopped\",\"t\":" + now() + ",\"n\":" + folded.get() + "}");
    System.exit(0);
  }

  static long now() {
    Instant t = Instant.now();
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  static void writeTimes(Path path, List<long[]> times, int[] lens) throws IOException {
    int n = 0;
    for (int l : lens) n += l / 2 * 3;
    ByteBuffer b = ByteBuffer.allocate(n * 8).order(ByteOrder.LITTLE_ENDIAN);
    for (int p = 0; p < times.size(); p++) {
      long[] ts = times.get(p);
      for (int i = 0; i + 1 < lens[p]; i += 2) {
        b.putLong(p).putLong(ts[i]).putLong(ts[i + 1]);
      }
    }
    Files.write(path, b.array());
  }

  // ---- reading the changelog back ----

  static void dump(String bootstrap, String changelog, Path path) throws IOException {
    Properties props = new Properties();
    props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    Map<String, JsonNode> table = new TreeMap<>();
    try (KafkaConsumer<String, byte[]> c = new KafkaConsumer<>(props, new StringDeserializer(), new ByteArrayDeserializer())) {
      List<TopicPartition> tps = new ArrayList<>();
      List<PartitionInfo> infos = c.partitionsFor(changelog, Duration.ofSeconds(30));
      if (infos == null || infos.isEmpty()) {
        throw new IOException("no changelog topic " + changelog);
      }
      for (PartitionInfo pi : infos) tps.add(new TopicPartition(changelog, pi.partition()));
      c.assign(tps);
      c.seekToBeginning(tps);
      // Under read_committed the end is the last stable offset: the consumer's position passes
      // the transactions' markers and skips aborted records, as a restore does.
      Map<TopicPartition, Long> ends = c.endOffsets(tps);
      long deadline = System.currentTimeMillis() + 120_000;
      while (true) {
        boolean done = true;
        for (TopicPartition tp : tps) {
          if (c.position(tp) < ends.get(tp)) done = false;
        }
        if (done) break;
        if (System.currentTimeMillis() > deadline) throw new IOException("changelog not read to its end within 2 minutes");
        for (ConsumerRecord<String, byte[]> r : c.poll(Duration.ofMillis(200))) {
          if (r.value() == null) {
            table.remove(r.key());
          } else {
            table.put(r.key(), JSON.readTree(r.value()));
          }
        }
      }
    }
    JSON.writeValue(path.toFile(), table);
  }
}
