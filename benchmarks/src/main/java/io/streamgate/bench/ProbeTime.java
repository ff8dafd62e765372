package io.streamgate.bench;

import java.lang.management.ManagementFactory;
import java.util.concurrent.TimeUnit;

/** Time figures the load probes report: their own CPU time (to show how much of the machine they took) and µs. */
final class ProbeTime {
    private ProbeTime() {
    }

    /** CPU time of this process so far, or -1 where the JVM cannot tell. */
    static long processCpuMillis() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            long nanos = os.getProcessCpuTime();
            return nanos < 0 ? -1 : TimeUnit.NANOSECONDS.toMillis(nanos);
        }
        return -1;
    }

    static long micros(long nanos) {
        return TimeUnit.NANOSECONDS.toMicros(nanos);
    }
}
