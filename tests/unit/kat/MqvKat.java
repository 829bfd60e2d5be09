/*
 * Generator of the one-pass ECMQV known-answer values in
 * tests/unit/test_cms_mqv.c, computed with Bouncy Castle 1.72's
 * ECMQVBasicAgreement (an implementation independent of ours).
 *
 * Private keys are SHA-512("sms-mqv-kat/<curve>/<role>") mod n, so the
 * values can be regenerated:
 *   javac -cp /usr/share/java/bcprov.jar -d /tmp MqvKat.java
 *   java -cp /usr/share/java/bcprov.jar:/tmp MqvKat
 * Roles: a = originator static, e = originator ephemeral, r = recipient
 * static (which one-pass MQV also uses as the recipient's ephemeral key).
 */
import java.math.BigInteger;
import java.security.MessageDigest;
import org.bouncycastle.asn1.x9.X9ECParameters;
import org.bouncycastle.asn1.x9.ECNamedCurveTable;
import org.bouncycastle.crypto.agreement.ECMQVBasicAgreement;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.params.MQVPrivateParameters;
import org.bouncycastle.crypto.params.MQVPublicParameters;
import org.bouncycastle.util.BigIntegers;
import org.bouncycastle.util.encoders.Hex;

public class MqvKat {
    static BigInteger scalar(String curve, String role, BigInteger n) throws Exception {
        byte[] h = MessageDigest.getInstance("SHA-512").digest(("sms-mqv-kat/" + curve + "/" + role).getBytes("US-ASCII"));
        return new BigInteger(1, h).mod(n);
    }

    public static void main(String[] args) throws Exception {
        for (String curve : new String[] { "P-256", "P-384", "P-521" }) {
            X9ECParameters x9 = ECNamedCurveTable.getByName(curve);
            ECDomainParameters dp = new ECDomainParameters(x9.getCurve(), x9.getG(), x9.getN(), x9.getH());
            BigInteger a = scalar(curve, "a", dp.getN()), e = scalar(curve, "e", dp.getN()), r = scalar(curve, "r", dp.getN());
            ECPrivateKeyParameters A = new ECPrivateKeyParameters(a, dp), E = new ECPrivateKeyParameters(e, dp), R = new ECPrivateKeyParameters(r, dp);
            ECPublicKeyParameters Apub = new ECPublicKeyParameters(dp.getG().multiply(a).normalize(), dp);
            ECPublicKeyParameters Epub = new ECPublicKeyParameters(dp.getG().multiply(e).normalize(), dp);
            ECPublicKeyParameters Rpub = new ECPublicKeyParameters(dp.getG().multiply(r).normalize(), dp);

            ECMQVBasicAgreement orig = new ECMQVBasicAgreement();
            orig.init(new MQVPrivateParameters(A, E, Epub));
            BigInteger z1 = orig.calculateAgreement(new MQVPublicParameters(Rpub, Rpub));
            ECMQVBasicAgreement rcpt = new ECMQVBasicAgreement();
            rcpt.init(new MQVPrivateParameters(R, R, Rpub));
            BigInteger z2 = rcpt.calculateAgreement(new MQVPublicParameters(Apub, Epub));
            if (!z1.equals(z2))
                throw new IllegalStateException("BC sides disagree on " + curve);
            int len = orig.getFieldSize();
            System.out.println("\t{ \"" + curve + "\",");
            System.out.println("\t  \"" + Hex.toHexString(BigIntegers.asUnsignedByteArray(len, a)) + "\",");
            System.out.println("\t  \"" + Hex.toHexString(BigIntegers.asUnsignedByteArray(len, e)) + "\",");
            System.out.println("\t  \"" + Hex.toHexString(BigIntegers.asUnsignedByteArray(len, r)) + "\",");
            System.out.println("\t  \"" + Hex.toHexString(BigIntegers.asUnsignedByteArray(len, z1)) + "\" },");
        }
    }
}
