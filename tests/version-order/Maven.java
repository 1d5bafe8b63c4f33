// Sorts Maven versions with maven-artifact's ComparableVersion (what Maven
// follows): reads candidates, prints `<TAB>version` or `=TAB>version` per
// line, in order. Fails if the order disagrees with any pair's comparison
// (ComparableVersion is not transitive in some contrived forms).
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.apache.maven.artifact.versioning.ComparableVersion;

public class Maven {
    public static void main(String[] args) throws Exception {
        List<ComparableVersion> vs = new ArrayList<>();
        for (String line : Files.readAllLines(Paths.get(args[0]))) {
            if (!line.isEmpty()) vs.add(new ComparableVersion(line));
        }
        vs.sort(null);
        for (int i = 0; i < vs.size(); i++) {
            for (int j = i + 1; j < vs.size(); j++) {
                if (vs.get(i).compareTo(vs.get(j)) > 0) {
                    throw new IllegalStateException("not transitive: " + vs.get(i) + " > " + vs.get(j));
                }
            }
        }
        for (int i = 0; i < vs.size(); i++) {
            boolean same = i > 0 && vs.get(i - 1).compareTo(vs.get(i)) == 0;
            System.out.println((same ? "=" : "<") + "\t" + vs.get(i));
        }
    }
}
