package io.streamgate.testing;

import org.junit.platform.launcher.LauncherSession;
import org.junit.platform.launcher.LauncherSessionListener;

/**
 * Installs {@link LeakRecorder} when the JUnit launcher session opens, which is before test classes are
 * discovered and so before any Netty buffer class is initialised. Registered through
 * META-INF/services/org.junit.platform.launcher.LauncherSessionListener.
 */
public final class LeakRecorderInstaller implements LauncherSessionListener {
    @Override
    public void launcherSessionOpened(LauncherSession session) {
        LeakRecorder.install();
    }
}
