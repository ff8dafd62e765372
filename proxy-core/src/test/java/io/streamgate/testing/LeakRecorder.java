package io.streamgate.testing;

import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Records every leak report Netty makes, so a test run can fail on a leak instead of only logging it.
 * Installed once per JVM by {@link LeakRecorderInstaller}, before any ByteBuf class exists: Netty creates
 * each resource's detector once, in a static initialiser, through the factory installed at that moment.
 */
public final class LeakRecorder extends ResourceLeakDetectorFactory {
    private static final Queue<String> REPORTS = new ConcurrentLinkedQueue<>();
    private static volatile boolean installed;

    private LeakRecorder() {
    }

    /** Installs the recorder and paranoid detection; idempotent. */
    public static synchronized void install() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
        if (!installed) {
            ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new LeakRecorder());
            installed = true;
        }
    }

    public static boolean isInstalled() {
        return installed;
    }

    /** The reports recorded so far, oldest first. */
    public static List<String> reports() {
        return new ArrayList<>(REPORTS);
    }

    public static void clear() {
        REPORTS.clear();
    }

    /**
     * Whether a leaked buffer is one Netty's io_uring transport allocated for a receive and never passed to a
     * pipeline: no access record at all (with paranoid detection, every buffer entering a pipeline is touched), made by
     * the stream channel's read scheduling. Its only owner is the transport (a receive still in flight when its channel
     * and loop were torn down), so it says nothing about our handlers' ownership, which is what the check is for.
     */
    static boolean transportOwned(String records) {
        int created = records.indexOf("Created at:");
        return created >= 0 && records.substring(0, created).strip().equals("Recent access records:")
                && records.contains("io.netty.channel.uring.AbstractIoUringStreamChannel$IoUringStreamUnsafe.scheduleRead");
    }

    @Override
    public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval, long maxActive) {
        return new RecordingDetector<>(resource, samplingInterval);
    }

    private static final class RecordingDetector<T> extends ResourceLeakDetector<T> {
        RecordingDetector(Class<T> resource, int samplingInterval) {
            super(resource, samplingInterval);
        }

        /** Report even when the io.netty logger is silenced: the record is what fails the test. */
        @Override
        protected boolean needReport() {
            return true;
        }

        @Override
        protected void reportTracedLeak(String resourceType, String records) {
            if (transportOwned(records)) {
                System.err.println("not counted, a read buffer Netty's io_uring transport never delivered: " + records);
                return;
            }
            REPORTS.add("LEAK of " + resourceType + ":" + records);
            super.reportTracedLeak(resourceType, records);
        }

        @Override
        protected void reportUntracedLeak(String resourceType) {
            REPORTS.add("LEAK of " + resourceType + " (untraced)");
            super.reportUntracedLeak(resourceType);
        }
    }
}
