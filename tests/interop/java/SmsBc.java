/*
 * SmsBc: the Bouncy Castle 1.72 side of the interop tests and benchmark.
 *
 * The thesis prototype used Bouncy Castle, so BC is the peer libsmscms must
 * interoperate with. This harness drives BC's own CMS API (what a Java peer
 * would call) and, separately, BC's lightweight primitives to re-derive a KEK
 * by hand, so a KDF SharedInfo difference can be pinned to one field.
 *
 *   encrypt  --cert C --key K [--chain F] --recipient R... [--ka mqv|ecdh]
 *            [--kdf sha1|sha224|sha256|sha384|sha512] [--cipher aes128-gcm|aes256-gcm]
 *            [--no-attrs] [--no-originator-info] [--compress] --in F --out F
 *            --compress: the content is RFC 3274 CompressedData (BC's ZlibCompressor)
 *   decrypt  --cert C --key K [--trust ROOT --crl F...] --in F [--out F] [--expect F]
 *            content of type id-ct-compressedData is expanded (BC's ZlibExpanderProvider,
 *            at most 1 MiB)
 *   derive   --cert C --key K --shared-info rfc5753|rfc5753-null|bc --in F [--out F] [--expect F]
 *            decrypts with BC's lightweight API (ECMQVBasicAgreement/ECDHBasicAgreement,
 *            KDF2BytesGenerator, ECCCMSSharedInfo, RFC3394WrapEngine, GCMBlockCipher),
 *            with the KDF SharedInfo built the way named.
 *   inspect  --in F      one line: ka kdf wrap originator-form ukm/addedukm authattrs
 *   reoriginate --in F --out F
 *            rewrites every KeyAgreeRecipientInfo originator given as issuerAndSerialNumber
 *            or subjectKeyIdentifier into originatorKey (the key from the certificate in
 *            originatorInfo), nothing else. The KEK and the GCM AAD do not depend on the
 *            originator's encoding, so BC's own decrypt can then be tried on a message whose
 *            KDF SharedInfo it did not produce.
 *   batch FILE           one command per line (blank and # lines skipped), one JVM;
 *                        prints TAP-like "ok N - line" / "not ok N - line: reason";
 *                        a line with --expect-error STR passes only if it fails with STR
 *                        in the error
 *   bench-encrypt ARGS --seconds S [--reps R] | --count N  (args as encrypt, no --out)
 *   bench-decrypt ARGS --seconds S [--reps R] | --count N  (args as decrypt)
 *                        warm up, then loop in-process; prints msgs_per_s=<median of R
 *                        windows> n=N reps=<each window>
 */

import java.io.FileReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.Reader;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Security;
import java.security.cert.CertPathValidator;
import java.security.cert.CertStore;
import java.security.cert.CertificateFactory;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CRL;
import java.security.cert.X509Certificate;
import java.security.interfaces.ECPublicKey;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Date;
import java.util.HashMap;
import java.util.Hashtable;
import java.util.List;
import java.util.Map;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Encoding;
import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.ASN1OctetString;
import org.bouncycastle.asn1.DERNull;
import org.bouncycastle.asn1.DERSet;
import org.bouncycastle.asn1.cms.Attribute;
import org.bouncycastle.asn1.cms.AttributeTable;
import org.bouncycastle.asn1.cms.AuthEnvelopedData;
import org.bouncycastle.asn1.cms.CMSAttributes;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.asn1.cms.EncryptedContentInfo;
import org.bouncycastle.asn1.cms.GCMParameters;
import org.bouncycastle.asn1.cms.IssuerAndSerialNumber;
import org.bouncycastle.asn1.cms.KeyAgreeRecipientIdentifier;
import org.bouncycastle.asn1.cms.KeyAgreeRecipientInfo;
import org.bouncycastle.asn1.cms.OriginatorIdentifierOrKey;
import org.bouncycastle.asn1.cms.OriginatorInfo;
import org.bouncycastle.asn1.cms.RecipientEncryptedKey;
import org.bouncycastle.asn1.cms.RecipientInfo;
import org.bouncycastle.asn1.cms.Time;
import org.bouncycastle.asn1.cms.ecc.ECCCMSSharedInfo;
import org.bouncycastle.asn1.cms.ecc.MQVuserKeyingMaterial;
import org.bouncycastle.asn1.x509.AlgorithmIdentifier;
import org.bouncycastle.asn1.x509.Certificate;
import org.bouncycastle.asn1.x509.SubjectKeyIdentifier;
import org.bouncycastle.asn1.x509.SubjectPublicKeyInfo;
import org.bouncycastle.asn1.x9.X9IntegerConverter;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaCertStore;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509ExtensionUtils;
import org.bouncycastle.cms.CMSAlgorithm;
import org.bouncycastle.cms.CMSAttributeTableGenerator;
import org.bouncycastle.cms.CMSAuthEnvelopedData;
import org.bouncycastle.cms.CMSAuthEnvelopedDataGenerator;
import org.bouncycastle.cms.CMSCompressedData;
import org.bouncycastle.cms.CMSCompressedDataGenerator;
import org.bouncycastle.cms.CMSProcessableByteArray;
import org.bouncycastle.cms.jcajce.ZlibCompressor;
import org.bouncycastle.cms.jcajce.ZlibExpanderProvider;
import org.bouncycastle.cms.OriginatorInfoGenerator;
import org.bouncycastle.cms.OriginatorInformation;
import org.bouncycastle.cms.RecipientInformation;
import org.bouncycastle.cms.jcajce.JceCMSContentEncryptorBuilder;
import org.bouncycastle.cms.jcajce.JceKeyAgreeRecipient;
import org.bouncycastle.cms.CMSException;
import org.bouncycastle.cms.RecipientOperator;
import org.bouncycastle.operator.InputAEADDecryptor;
import javax.crypto.Cipher;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import org.bouncycastle.cms.jcajce.JceKeyAgreeRecipientInfoGenerator;
import org.bouncycastle.crypto.BasicAgreement;
import org.bouncycastle.crypto.Digest;
import org.bouncycastle.crypto.agreement.ECDHBasicAgreement;
import org.bouncycastle.crypto.agreement.ECMQVBasicAgreement;
import org.bouncycastle.crypto.digests.SHA1Digest;
import org.bouncycastle.crypto.digests.SHA224Digest;
import org.bouncycastle.crypto.digests.SHA256Digest;
import org.bouncycastle.crypto.digests.SHA384Digest;
import org.bouncycastle.crypto.digests.SHA512Digest;
import org.bouncycastle.crypto.engines.AESEngine;
import org.bouncycastle.crypto.engines.RFC3394WrapEngine;
import org.bouncycastle.crypto.generators.KDF2BytesGenerator;
import org.bouncycastle.crypto.modes.GCMBlockCipher;
import org.bouncycastle.crypto.params.AEADParameters;
import org.bouncycastle.crypto.params.ECDomainParameters;
import org.bouncycastle.crypto.params.ECPrivateKeyParameters;
import org.bouncycastle.crypto.params.ECPublicKeyParameters;
import org.bouncycastle.crypto.params.KDFParameters;
import org.bouncycastle.crypto.params.KeyParameter;
import org.bouncycastle.crypto.params.MQVPrivateParameters;
import org.bouncycastle.crypto.params.MQVPublicParameters;
import org.bouncycastle.crypto.util.PrivateKeyFactory;
import org.bouncycastle.crypto.util.PublicKeyFactory;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.operator.OutputAEADEncryptor;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.util.Pack;

public final class SmsBc {
	private static final String BC = BouncyCastleProvider.PROVIDER_NAME;

	/* Parsed command line: repeated options keep every value. */
	static final class Args {
		final Map<String, List<String>> opts = new HashMap<>();
		String cmd;

		static Args parse(String[] argv) {
			Args a = new Args();
			if (argv.length == 0)
				throw new IllegalArgumentException("missing command (see the header of SmsBc.java)");
			a.cmd = argv[0];
			for (int i = 1; i < argv.length; i++) {
				String k = argv[i];
				if (!k.startsWith("--"))
					throw new IllegalArgumentException("unexpected argument " + k);
				k = k.substring(2);
				boolean flag = k.startsWith("no-") || k.equals("help") || k.equals("compress");
				String v = "";
				if (!flag) {
					if (i + 1 >= argv.length)
						throw new IllegalArgumentException("--" + k + " needs a value");
					v = argv[++i];
				}
				a.opts.computeIfAbsent(k, x -> new ArrayList<>()).add(v);
			}
			return a;
		}

		String get(String k, String def) {
			List<String> l = opts.get(k);
			return l == null ? def : l.get(l.size() - 1);
		}

		String need(String k) {
			String v = get(k, null);
			if (v == null)
				throw new IllegalArgumentException(cmd + ": --" + k + " is required");
			return v;
		}

		List<String> all(String k) {
			return opts.getOrDefault(k, Collections.emptyList());
		}

		boolean has(String k) {
			return opts.containsKey(k);
		}
	}

	/* ---- PEM ---- */

	static List<X509Certificate> readCerts(String file) throws Exception {
		List<X509Certificate> out = new ArrayList<>();
		JcaX509CertificateConverter conv = new JcaX509CertificateConverter().setProvider(BC);
		try (Reader r = new FileReader(file); PEMParser p = new PEMParser(r)) {
			Object o;
			while ((o = p.readObject()) != null) {
				if (o instanceof X509CertificateHolder)
					out.add(conv.getCertificate((X509CertificateHolder) o));
			}
		}
		if (out.isEmpty())
			throw new IllegalArgumentException(file + ": no certificate");
		return out;
	}

	static X509Certificate readCert(String file) throws Exception {
		return readCerts(file).get(0);
	}

	static PrivateKey readKey(String file) throws Exception {
		try (Reader r = new FileReader(file); PEMParser p = new PEMParser(r)) {
			Object o = p.readObject();
			JcaPEMKeyConverter conv = new JcaPEMKeyConverter().setProvider(BC);
			if (o instanceof PrivateKeyInfo)
				return conv.getPrivateKey((PrivateKeyInfo) o);
			if (o instanceof org.bouncycastle.openssl.PEMKeyPair)
				return conv.getKeyPair((org.bouncycastle.openssl.PEMKeyPair) o).getPrivate();
			throw new IllegalArgumentException(file + ": not an unencrypted private key");
		}
	}

	static List<X509CRL> readCrls(List<String> files) throws Exception {
		List<X509CRL> out = new ArrayList<>();
		CertificateFactory cf = CertificateFactory.getInstance("X.509", BC);
		for (String f : files) {
			try (java.io.InputStream in = Files.newInputStream(Paths.get(f))) {
				for (java.security.cert.CRL c : cf.generateCRLs(in))
					out.add((X509CRL) c);
			}
		}
		return out;
	}

	/* ---- algorithm names ---- */

	static ASN1ObjectIdentifier kaOid(String ka, String kdf) {
		boolean mqv = ka.equals("mqv");
		if (!mqv && !ka.equals("ecdh"))
			throw new IllegalArgumentException("unknown --ka " + ka);
		switch (kdf) {
		case "sha1": return mqv ? CMSAlgorithm.ECMQV_SHA1KDF : CMSAlgorithm.ECDH_SHA1KDF;
		case "sha224": return mqv ? CMSAlgorithm.ECMQV_SHA224KDF : CMSAlgorithm.ECDH_SHA224KDF;
		case "sha256": return mqv ? CMSAlgorithm.ECMQV_SHA256KDF : CMSAlgorithm.ECDH_SHA256KDF;
		case "sha384": return mqv ? CMSAlgorithm.ECMQV_SHA384KDF : CMSAlgorithm.ECDH_SHA384KDF;
		case "sha512": return mqv ? CMSAlgorithm.ECMQV_SHA512KDF : CMSAlgorithm.ECDH_SHA512KDF;
		default: throw new IllegalArgumentException("unknown --kdf " + kdf);
		}
	}

	/* Reverse map for inspect/derive: OID -> {ka, kdf}. */
	static String[] kaName(ASN1ObjectIdentifier oid) {
		for (String ka : new String[] { "mqv", "ecdh" })
			for (String kdf : new String[] { "sha1", "sha224", "sha256", "sha384", "sha512" })
				if (kaOid(ka, kdf).equals(oid))
					return new String[] { ka, kdf };
		throw new IllegalArgumentException("unsupported key agreement " + oid);
	}

	static Digest kdfDigest(String kdf) {
		switch (kdf) {
		case "sha1": return new SHA1Digest();
		case "sha224": return new SHA224Digest();
		case "sha256": return new SHA256Digest();
		case "sha384": return new SHA384Digest();
		default: return new SHA512Digest();
		}
	}

	/* ---- encrypt ---- */

	/* Everything an encryption needs, loaded once (the benchmark loops on it). */
	static final class EncryptSetup {
		X509Certificate cert;
		PrivateKey key;
		List<X509Certificate> chain = new ArrayList<>();
		List<X509Certificate> recipients = new ArrayList<>();
		String ka, kdf, cipher;
		boolean attrs, origInfo, compress;
		OriginatorInformation originatorInformation;

		EncryptSetup(Args a) throws Exception {
			cert = readCert(a.need("cert"));
			key = readKey(a.need("key"));
			if (a.has("chain"))
				chain = readCerts(a.need("chain"));
			for (String r : a.all("recipient"))
				recipients.add(readCert(r));
			if (recipients.isEmpty())
				throw new IllegalArgumentException("encrypt: at least one --recipient");
			ka = a.get("ka", "mqv");
			kdf = a.get("kdf", "sha256");
			cipher = a.get("cipher", "aes256-gcm");
			if (!cipher.equals("aes128-gcm") && !cipher.equals("aes256-gcm"))
				throw new IllegalArgumentException("unknown --cipher " + cipher);
			attrs = !a.has("no-attrs");
			origInfo = !a.has("no-originator-info");
			compress = a.has("compress");
			if (origInfo) {
				List<X509Certificate> all = new ArrayList<>();
				all.add(cert);
				all.addAll(chain);
				originatorInformation = new OriginatorInfoGenerator(new JcaCertStore(all)).generate();
			}
		}

		byte[] encrypt(byte[] pt) throws Exception {
			boolean aes128 = cipher.equals("aes128-gcm");
			CMSAuthEnvelopedDataGenerator gen = new CMSAuthEnvelopedDataGenerator();
			if (originatorInformation != null)
				gen.setOriginatorInfo(originatorInformation);
			if (attrs) {
				gen.setAuthenticatedAttributeGenerator(new CMSAttributeTableGenerator() {
					public AttributeTable getAttributes(@SuppressWarnings("rawtypes") Map params) {
						Hashtable<ASN1ObjectIdentifier, Attribute> t = new Hashtable<>();
						t.put(CMSAttributes.signingTime, new Attribute(CMSAttributes.signingTime,
								new DERSet(new Time(new Date()))));
						return new AttributeTable(t);
					}
				});
			}
			/* MQV needs the originator's static key pair; ECDH is
			 * ephemeral-static, so it gets a fresh pair per message. */
			PrivateKey sPriv = key;
			PublicKey sPub = cert.getPublicKey();
			if (ka.equals("ecdh")) {
				KeyPairGenerator kpg = KeyPairGenerator.getInstance("EC", BC);
				kpg.initialize(((ECPublicKey) recipients.get(0).getPublicKey()).getParams());
				KeyPair eph = kpg.generateKeyPair();
				sPriv = eph.getPrivate();
				sPub = eph.getPublic();
			}
			JceKeyAgreeRecipientInfoGenerator rig = new JceKeyAgreeRecipientInfoGenerator(kaOid(ka, kdf),
					sPriv, sPub, aes128 ? CMSAlgorithm.AES128_WRAP : CMSAlgorithm.AES256_WRAP).setProvider(BC);
			for (X509Certificate r : recipients)
				rig.addRecipient(r);
			gen.addRecipientInfoGenerator(rig);
			OutputAEADEncryptor enc = (OutputAEADEncryptor) new JceCMSContentEncryptorBuilder(
					aes128 ? CMSAlgorithm.AES128_GCM : CMSAlgorithm.AES256_GCM).setProvider(BC).build();
			CMSProcessableByteArray content = new CMSProcessableByteArray(pt);
			if (compress)
				content = new CMSProcessableByteArray(org.bouncycastle.asn1.cms.CMSObjectIdentifiers.compressedData,
						new CMSCompressedDataGenerator().generate(content, new ZlibCompressor()).getEncoded());
			return gen.generate(content, enc).getEncoded();
		}
	}

	/* ---- decrypt through BC's CMS API ---- */

	/*
	 * BC 1.72 ships JceKeyTransAuthEnvelopedRecipient but no key-agreement
	 * counterpart: JceKeyAgreeEnvelopedRecipient's operator is a plain
	 * InputDecryptor, and CMSAuthEnvelopedData casts it to InputAEADDecryptor
	 * (ClassCastException). This glue keeps BC's own KEK derivation and key
	 * unwrap (JceKeyAgreeRecipient.extractSecretKey) and only adds the GCM
	 * content decryptor, as JceKeyTransAuthEnvelopedRecipient does.
	 */
	static final class KeyAgreeAuthEnvelopedRecipient extends JceKeyAgreeRecipient {
		KeyAgreeAuthEnvelopedRecipient(PrivateKey key) {
			super(key);
		}

		@Override
		public RecipientOperator getRecipientOperator(AlgorithmIdentifier keyEncAlg, AlgorithmIdentifier contentEncAlg,
				SubjectPublicKeyInfo senderKey, ASN1OctetString ukm, byte[] encryptedCek) throws CMSException {
			Key cek = extractSecretKey(keyEncAlg, contentEncAlg, senderKey, ukm, encryptedCek);
			GCMParameters gp = GCMParameters.getInstance(contentEncAlg.getParameters());
			final Cipher c;
			try {
				c = Cipher.getInstance("AES/GCM/NoPadding", BC);
				c.init(Cipher.DECRYPT_MODE, new SecretKeySpec(cek.getEncoded(), "AES"),
						new GCMParameterSpec(gp.getIcvLen() * 8, gp.getNonce()));
			} catch (GeneralSecurityException e) {
				throw new CMSException("content cipher: " + e, e);
			}
			return new RecipientOperator(new InputAEADDecryptor() {
				public AlgorithmIdentifier getAlgorithmIdentifier() {
					return contentEncAlg;
				}

				public InputStream getInputStream(InputStream in) {
					return new org.bouncycastle.jcajce.io.CipherInputStream(in, c);
				}

				public OutputStream getAADStream() {
					return new OutputStream() {
						public void write(int b) {
							c.updateAAD(new byte[] { (byte) b });
						}

						public void write(byte[] b, int off, int len) {
							c.updateAAD(b, off, len);
						}
					};
				}

				public byte[] getMAC() {
					return null;
				}
			});
		}
	}

	static final class DecryptSetup {
		X509Certificate cert;
		X509CertificateHolder holder;
		PrivateKey key;
		TrustAnchor anchor;
		List<X509CRL> crls = new ArrayList<>();

		DecryptSetup(Args a) throws Exception {
			cert = readCert(a.need("cert"));
			holder = new X509CertificateHolder(cert.getEncoded());
			key = readKey(a.need("key"));
			if (a.has("trust")) {
				anchor = new TrustAnchor(readCert(a.need("trust")), null);
				crls = readCrls(a.all("crl"));
			}
		}

		byte[] decrypt(byte[] der) throws Exception {
			CMSAuthEnvelopedData ed = new CMSAuthEnvelopedData(der);
			RecipientInformation mine = null;
			for (RecipientInformation ri : ed.getRecipientInfos().getRecipients()) {
				@SuppressWarnings("unchecked")
				boolean match = ri.getRID().match(holder);
				if (match) {
					mine = ri;
					break;
				}
			}
			if (mine == null)
				throw new IllegalStateException("no RecipientEncryptedKey for " + cert.getSubjectX500Principal());
			byte[] pt = mine.getContent(new KeyAgreeAuthEnvelopedRecipient(key).setProvider(BC));
			if (anchor != null)
				verifyOriginator(ed, mine);
			ASN1ObjectIdentifier type = AuthEnvelopedData.getInstance(ContentInfo.getInstance(der).getContent())
					.getAuthEncryptedContentInfo().getContentType();
			if (type.equals(org.bouncycastle.asn1.cms.CMSObjectIdentifiers.compressedData))
				pt = new CMSCompressedData(pt).getContent(new ZlibExpanderProvider(1 << 20));
			return pt;
		}

		/* BC's CMS API does not identify or verify the originator: find the
		 * certificate in originatorInfo whose key is the originatorKey (or
		 * that the IAS/SKI names) and validate its path with PKIX + CRLs. */
		void verifyOriginator(CMSAuthEnvelopedData ed, RecipientInformation ri) throws Exception {
			if (ed.getOriginatorInfo() == null)
				throw new IllegalStateException("no originatorInfo to verify");
			JcaX509CertificateConverter conv = new JcaX509CertificateConverter().setProvider(BC);
			List<X509Certificate> carried = new ArrayList<>();
			@SuppressWarnings("unchecked")
			Collection<X509CertificateHolder> hs = ed.getOriginatorInfo().getCertificates().getMatches(null);
			for (X509CertificateHolder h : hs)
				carried.add(conv.getCertificate(h));
			OriginatorIdentifierOrKey oik = ((org.bouncycastle.cms.KeyAgreeRecipientInformation) ri).getOriginator();
			X509Certificate orig = findOriginator(oik, carried);
			/* ECDH's originatorKey is the ephemeral key: nothing names the
			 * originator, so the leaf of the carried chain is what gets
			 * verified (unbound to the key agreement, as ECDH allows). */
			if (orig == null && !isMqv(ri))
				orig = carriedLeaf(carried);
			if (orig == null)
				throw new IllegalStateException("originator certificate not in originatorInfo");
			List<Object> store = new ArrayList<>(carried);
			store.addAll(crls);
			PKIXParameters p = new PKIXParameters(Collections.singleton(anchor));
			p.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(store), BC));
			p.setRevocationEnabled(true);
			CertificateFactory cf = CertificateFactory.getInstance("X.509", BC);
			List<X509Certificate> path = buildPath(orig, carried);
			CertPathValidator.getInstance("PKIX", BC).validate(cf.generateCertPath(path), p);
		}
	}

	static X509Certificate findOriginator(OriginatorIdentifierOrKey oik, List<X509Certificate> carried)
			throws Exception {
		for (X509Certificate c : carried) {
			if (oik.getOriginatorKey() != null) {
				SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.getInstance(c.getPublicKey().getEncoded());
				if (Arrays.equals(spki.getPublicKeyData().getBytes(),
						oik.getOriginatorKey().getPublicKey().getBytes()))
					return c;
			} else if (oik.getIssuerAndSerialNumber() != null) {
				IssuerAndSerialNumber ias = oik.getIssuerAndSerialNumber();
				Certificate bc = Certificate.getInstance(c.getEncoded());
				if (bc.getIssuer().equals(ias.getName()) && bc.getSerialNumber().equals(ias.getSerialNumber()))
					return c;
			} else if (oik.getSubjectKeyIdentifier() != null) {
				byte[] ski = new JcaX509ExtensionUtils().createSubjectKeyIdentifier(c.getPublicKey())
						.getKeyIdentifier();
				byte[] ext = c.getExtensionValue("2.5.29.14");
				if (ext != null)
					ski = SubjectKeyIdentifier.getInstance(ASN1OctetString.getInstance(ext).getOctets())
							.getKeyIdentifier();
				if (Arrays.equals(ski, oik.getSubjectKeyIdentifier().getKeyIdentifier()))
					return c;
			}
		}
		return null;
	}

	static boolean isMqv(RecipientInformation ri) {
		return kaName(ri.getKeyEncryptionAlgorithm().getAlgorithm())[0].equals("mqv");
	}

	/* The carried certificate that issued none of the others. */
	static X509Certificate carriedLeaf(List<X509Certificate> carried) {
		for (X509Certificate c : carried) {
			boolean issuer = false;
			for (X509Certificate o : carried)
				if (o != c && o.getIssuerX500Principal().equals(c.getSubjectX500Principal()))
					issuer = true;
			if (!issuer)
				return c;
		}
		return null;
	}

	/* Leaf first, then each issuer found among the carried certificates. */
	static List<X509Certificate> buildPath(X509Certificate leaf, List<X509Certificate> carried) {
		List<X509Certificate> path = new ArrayList<>();
		path.add(leaf);
		X509Certificate cur = leaf;
		for (int guard = 0; guard < 16; guard++) {
			X509Certificate next = null;
			for (X509Certificate c : carried)
				if (c != cur && c.getSubjectX500Principal().equals(cur.getIssuerX500Principal())
						&& !c.getSubjectX500Principal().equals(c.getIssuerX500Principal()))
					next = c;
			if (next == null || path.contains(next))
				break;
			path.add(next);
			cur = next;
		}
		return path;
	}

	/* ---- decrypt with BC's lightweight primitives and an explicit SharedInfo ---- */

	static byte[] derive(Args a, byte[] der) throws Exception {
		String form = a.need("shared-info");
		X509Certificate cert = readCert(a.need("cert"));
		Certificate bcCert = Certificate.getInstance(cert.getEncoded());
		ECPrivateKeyParameters priv = (ECPrivateKeyParameters) PrivateKeyFactory
				.createKey(PrivateKeyInfo.getInstance(readKey(a.need("key")).getEncoded()));
		ECDomainParameters dom = priv.getParameters();
		ECPublicKeyParameters pub = (ECPublicKeyParameters) PublicKeyFactory
				.createKey(SubjectPublicKeyInfo.getInstance(cert.getPublicKey().getEncoded()));

		AuthEnvelopedData aed = AuthEnvelopedData.getInstance(ContentInfo.getInstance(der).getContent());
		KeyAgreeRecipientInfo kari = null;
		ASN1OctetString wrapped = null;
		for (ASN1Encodable e : aed.getRecipientInfos()) {
			ASN1Encodable info = RecipientInfo.getInstance(e).getInfo();
			if (!(info instanceof KeyAgreeRecipientInfo))
				continue;
			KeyAgreeRecipientInfo k = (KeyAgreeRecipientInfo) info;
			for (ASN1Encodable re : k.getRecipientEncryptedKeys()) {
				RecipientEncryptedKey rek = RecipientEncryptedKey.getInstance(re);
				KeyAgreeRecipientIdentifier id = rek.getIdentifier();
				boolean match;
				if (id.getIssuerAndSerialNumber() != null)
					match = id.getIssuerAndSerialNumber().getName().equals(bcCert.getIssuer())
							&& id.getIssuerAndSerialNumber().getSerialNumber().equals(bcCert.getSerialNumber());
				else {
					byte[] ext = cert.getExtensionValue("2.5.29.14");
					match = ext != null && Arrays.equals(
							SubjectKeyIdentifier.getInstance(ASN1OctetString.getInstance(ext).getOctets())
									.getKeyIdentifier(),
							id.getRKeyID().getSubjectKeyIdentifier().getOctets());
				}
				if (match) {
					kari = k;
					wrapped = rek.getEncryptedKey();
				}
			}
		}
		if (kari == null)
			throw new IllegalStateException("derive: not a recipient");

		String[] kk = kaName(kari.getKeyEncryptionAlgorithm().getAlgorithm());
		AlgorithmIdentifier wrapAlg = AlgorithmIdentifier.getInstance(kari.getKeyEncryptionAlgorithm().getParameters());
		int keyBits = wrapAlg.getAlgorithm().equals(CMSAlgorithm.AES128_WRAP) ? 128 : 256;
		ASN1OctetString ukm = kari.getUserKeyingMaterial();
		byte[] entityU;
		BigInteger z;
		OriginatorIdentifierOrKey oik = kari.getOriginator();
		if (kk[0].equals("mqv")) {
			MQVuserKeyingMaterial m = MQVuserKeyingMaterial.getInstance(ukm.getOctets());
			ECPublicKeyParameters eph = new ECPublicKeyParameters(
					dom.getCurve().decodePoint(m.getEphemeralPublicKey().getPublicKey().getBytes()), dom);
			ECPublicKeyParameters ostatic;
			if (oik.getOriginatorKey() != null) {
				ostatic = new ECPublicKeyParameters(
						dom.getCurve().decodePoint(oik.getOriginatorKey().getPublicKey().getBytes()), dom);
			} else {
				OriginatorInfo oi = aed.getOriginatorInfo();
				if (oi == null || oi.getCertificates() == null)
					throw new IllegalStateException("derive: originator by identifier but no originatorInfo");
				List<X509Certificate> carried = new ArrayList<>();
				CertificateFactory cf = CertificateFactory.getInstance("X.509", BC);
				for (ASN1Encodable ce : oi.getCertificates())
					carried.add((X509Certificate) cf.generateCertificate(
							new java.io.ByteArrayInputStream(ce.toASN1Primitive().getEncoded())));
				X509Certificate oc = findOriginator(oik, carried);
				if (oc == null)
					throw new IllegalStateException("derive: originator certificate not carried");
				ostatic = (ECPublicKeyParameters) PublicKeyFactory
						.createKey(SubjectPublicKeyInfo.getInstance(oc.getPublicKey().getEncoded()));
			}
			/* One-pass MQV: the recipient's static key plays both roles. */
			ECMQVBasicAgreement ag = new ECMQVBasicAgreement();
			ag.init(new MQVPrivateParameters(priv, priv, pub));
			z = ag.calculateAgreement(new MQVPublicParameters(ostatic, eph));
			entityU = m.getAddedukm() == null ? null : m.getAddedukm().getOctets();
		} else {
			ECPublicKeyParameters eph = new ECPublicKeyParameters(
					dom.getCurve().decodePoint(oik.getOriginatorKey().getPublicKey().getBytes()), dom);
			BasicAgreement ag = new ECDHBasicAgreement();
			ag.init(priv);
			z = ag.calculateAgreement(eph);
			entityU = ukm == null ? null : ukm.getOctets();
		}
		byte[] zb = new X9IntegerConverter().integerToBytes(z, new X9IntegerConverter().getByteLength(dom.getCurve()));

		byte[] sharedInfo;
		switch (form) {
		case "rfc5753":
			sharedInfo = new ECCCMSSharedInfo(new AlgorithmIdentifier(wrapAlg.getAlgorithm()), entityU,
					Pack.intToBigEndian(keyBits)).getEncoded(ASN1Encoding.DER);
			break;
		case "rfc5753-null":
			sharedInfo = new ECCCMSSharedInfo(new AlgorithmIdentifier(wrapAlg.getAlgorithm(), DERNull.INSTANCE),
					entityU, Pack.intToBigEndian(keyBits)).getEncoded(ASN1Encoding.DER);
			break;
		case "bc":
			sharedInfo = entityU;
			break;
		default:
			throw new IllegalArgumentException("unknown --shared-info " + form);
		}
		KDF2BytesGenerator kdf = new KDF2BytesGenerator(kdfDigest(kk[1]));
		kdf.init(new KDFParameters(zb, sharedInfo));
		byte[] kek = new byte[keyBits / 8];
		kdf.generateBytes(kek, 0, kek.length);
		if (a.has("print-kek"))
			System.err.println("kek=" + org.bouncycastle.util.encoders.Hex.toHexString(kek));

		RFC3394WrapEngine unwrap = new RFC3394WrapEngine(new AESEngine());
		unwrap.init(false, new KeyParameter(kek));
		byte[] w = wrapped.getOctets();
		byte[] cek = unwrap.unwrap(w, 0, w.length);

		EncryptedContentInfo eci = aed.getAuthEncryptedContentInfo();
		GCMParameters gp = GCMParameters.getInstance(eci.getContentEncryptionAlgorithm().getParameters());
		GCMBlockCipher gcm = new GCMBlockCipher(new AESEngine());
		byte[] aad = aed.getAuthAttrs() == null ? new byte[0] : aed.getAuthAttrs().getEncoded(ASN1Encoding.DER);
		gcm.init(false, new AEADParameters(new KeyParameter(cek), gp.getIcvLen() * 8, gp.getNonce(), aad));
		byte[] ct = eci.getEncryptedContent().getOctets();
		byte[] mac = aed.getMac().getOctets();
		byte[] in = new byte[ct.length + mac.length];
		System.arraycopy(ct, 0, in, 0, ct.length);
		System.arraycopy(mac, 0, in, ct.length, mac.length);
		byte[] out = new byte[gcm.getOutputSize(in.length)];
		int n = gcm.processBytes(in, 0, in.length, out, 0);
		n += gcm.doFinal(out, n);
		return Arrays.copyOf(out, n);
	}

	/* ---- inspect: the facts the README's quirk table is built from ---- */

	static String inspect(byte[] der) throws Exception {
		AuthEnvelopedData aed = AuthEnvelopedData.getInstance(ContentInfo.getInstance(der).getContent());
		StringBuilder sb = new StringBuilder();
		sb.append("originatorInfo=").append(aed.getOriginatorInfo() != null);
		sb.append(" authAttrs=");
		if (aed.getAuthAttrs() == null)
			sb.append("none");
		else {
			List<String> oids = new ArrayList<>();
			for (ASN1Encodable e : aed.getAuthAttrs())
				oids.add(Attribute.getInstance(e).getAttrType().getId());
			sb.append(String.join(",", oids));
		}
		EncryptedContentInfo eci = aed.getAuthEncryptedContentInfo();
		GCMParameters gp = GCMParameters.getInstance(eci.getContentEncryptionAlgorithm().getParameters());
		sb.append(" content=").append(eci.getContentEncryptionAlgorithm().getAlgorithm().getId())
				.append(" nonce=").append(gp.getNonce().length).append(" icv=").append(gp.getIcvLen());
		for (ASN1Encodable e : aed.getRecipientInfos()) {
			ASN1Encodable info = RecipientInfo.getInstance(e).getInfo();
			if (!(info instanceof KeyAgreeRecipientInfo)) {
				sb.append(" ri=other");
				continue;
			}
			KeyAgreeRecipientInfo k = (KeyAgreeRecipientInfo) info;
			String[] kk = kaName(k.getKeyEncryptionAlgorithm().getAlgorithm());
			AlgorithmIdentifier wrapAlg = AlgorithmIdentifier.getInstance(k.getKeyEncryptionAlgorithm().getParameters());
			OriginatorIdentifierOrKey o = k.getOriginator();
			sb.append(" kari{ka=").append(kk[0]).append(" kdf=").append(kk[1])
					.append(" wrap=").append(wrapAlg.getAlgorithm().getId())
					.append(" wrapParams=").append(wrapAlg.getParameters() == null ? "absent" : "NULL")
					.append(" originator=").append(o.getOriginatorKey() != null ? "originatorKey"
							: o.getIssuerAndSerialNumber() != null ? "issuerAndSerialNumber" : "subjectKeyIdentifier");
			if (o.getOriginatorKey() != null)
				sb.append(" origKeyAlgParams=")
						.append(o.getOriginatorKey().getAlgorithm().getParameters() == null ? "absent" : "present");
			ASN1OctetString ukm = k.getUserKeyingMaterial();
			if (kk[0].equals("mqv") && ukm != null) {
				MQVuserKeyingMaterial m = MQVuserKeyingMaterial.getInstance(ukm.getOctets());
				sb.append(" addedukm=").append(m.getAddedukm() == null ? "absent" : m.getAddedukm().getOctets().length);
			} else
				sb.append(" ukm=").append(ukm == null ? "absent" : ukm.getOctets().length);
			sb.append(" reks=").append(k.getRecipientEncryptedKeys().size()).append("}");
		}
		return sb.toString();
	}

	static byte[] reoriginate(byte[] der) throws Exception {
		AuthEnvelopedData aed = AuthEnvelopedData.getInstance(ContentInfo.getInstance(der).getContent());
		OriginatorInfo oi = aed.getOriginatorInfo();
		if (oi == null || oi.getCertificates() == null)
			throw new IllegalStateException("reoriginate: no originatorInfo certificates");
		List<X509Certificate> carried = new ArrayList<>();
		CertificateFactory cf = CertificateFactory.getInstance("X.509", BC);
		for (ASN1Encodable ce : oi.getCertificates())
			carried.add((X509Certificate) cf.generateCertificate(
					new java.io.ByteArrayInputStream(ce.toASN1Primitive().getEncoded())));
		List<ASN1Encodable> ris = new ArrayList<>();
		for (ASN1Encodable e : aed.getRecipientInfos()) {
			ASN1Encodable info = RecipientInfo.getInstance(e).getInfo();
			if (info instanceof KeyAgreeRecipientInfo) {
				KeyAgreeRecipientInfo k = (KeyAgreeRecipientInfo) info;
				if (k.getOriginator().getOriginatorKey() == null) {
					X509Certificate oc = findOriginator(k.getOriginator(), carried);
					if (oc == null)
						throw new IllegalStateException("reoriginate: originator certificate not carried");
					SubjectPublicKeyInfo spki = SubjectPublicKeyInfo.getInstance(oc.getPublicKey().getEncoded());
					k = new KeyAgreeRecipientInfo(new OriginatorIdentifierOrKey(
							new org.bouncycastle.asn1.cms.OriginatorPublicKey(spki.getAlgorithm(),
									spki.getPublicKeyData().getBytes())),
							k.getUserKeyingMaterial(), k.getKeyEncryptionAlgorithm(), k.getRecipientEncryptedKeys());
				}
				ris.add(new RecipientInfo(k));
			} else
				ris.add(e);
		}
		AuthEnvelopedData out = new AuthEnvelopedData(oi, new DERSet(ris.toArray(new ASN1Encodable[0])),
				aed.getAuthEncryptedContentInfo(), aed.getAuthAttrs(), aed.getMac(), aed.getUnauthAttrs());
		return new ContentInfo(org.bouncycastle.asn1.cms.CMSObjectIdentifiers.authEnvelopedData, out)
				.getEncoded(ASN1Encoding.DER);
	}

	/* ---- commands ---- */

	static byte[] read(String f) throws IOException {
		return Files.readAllBytes(Paths.get(f));
	}

	static void finishDecrypt(Args a, byte[] pt) throws IOException {
		if (a.has("expect") && !Arrays.equals(pt, read(a.need("expect"))))
			throw new IllegalStateException("plaintext differs from " + a.need("expect"));
		if (a.has("out"))
			Files.write(Paths.get(a.need("out")), pt);
	}

	static void run(Args a) throws Exception {
		switch (a.cmd) {
		case "encrypt": {
			EncryptSetup s = new EncryptSetup(a);
			Files.write(Paths.get(a.need("out")), s.encrypt(read(a.need("in"))));
			return;
		}
		case "decrypt":
			finishDecrypt(a, new DecryptSetup(a).decrypt(read(a.need("in"))));
			return;
		case "derive":
			finishDecrypt(a, derive(a, read(a.need("in"))));
			return;
		case "inspect":
			System.out.println(inspect(read(a.need("in"))));
			return;
		case "reoriginate":
			Files.write(Paths.get(a.need("out")), reoriginate(read(a.need("in"))));
			return;
		case "bench-encrypt": {
			EncryptSetup s = new EncryptSetup(a);
			byte[] pt = read(a.need("in"));
			bench(a, () -> s.encrypt(pt));
			return;
		}
		case "bench-decrypt": {
			DecryptSetup s = new DecryptSetup(a);
			byte[] der = read(a.need("in"));
			byte[] want = a.has("expect") ? read(a.need("expect")) : null;
			bench(a, () -> {
				byte[] pt = s.decrypt(der);
				if (want != null && !Arrays.equals(pt, want))
					throw new IllegalStateException("bench-decrypt: wrong plaintext");
				return pt;
			});
			return;
		}
		default:
			throw new IllegalArgumentException("unknown command " + a.cmd);
		}
	}

	interface Op {
		byte[] run() throws Exception;
	}

	/*
	 * Warm-up (JIT) for max(1 s, a third of a window), then --reps measured windows
	 * (default 1) of --seconds each, or one window of --count iterations;
	 * prints the median window and every window's rate.
	 */
	static void bench(Args a, Op op) throws Exception {
		double seconds = Double.parseDouble(a.get("seconds", "0"));
		long count = Long.parseLong(a.get("count", "0"));
		int reps = Integer.parseInt(a.get("reps", "1"));
		if (seconds <= 0 && count <= 0)
			seconds = 2;
		/* C2 needs on the order of a second of this loop to settle. */
		long warmEnd = System.nanoTime() + (long) (Math.max(1.0, seconds / 3) * 1e9);
		while (System.nanoTime() < warmEnd)
			op.run();
		double[] rates = new double[Math.max(1, reps)];
		long total = 0;
		for (int r = 0; r < rates.length; r++) {
			long n = 0, t0 = System.nanoTime(), end = t0 + (long) (seconds * 1e9);
			while (count > 0 ? n < count : System.nanoTime() < end) {
				op.run();
				n++;
			}
			rates[r] = n / ((System.nanoTime() - t0) / 1e9);
			total += n;
		}
		StringBuilder all = new StringBuilder();
		for (double r : rates)
			all.append(all.length() > 0 ? "," : "").append(String.format("%.1f", r));
		double[] sorted = rates.clone();
		Arrays.sort(sorted);
		System.out.printf("msgs_per_s=%.1f n=%d reps=%s%n", sorted[sorted.length / 2], total, all);
	}

	static int batch(String file) throws Exception {
		List<String> lines = Files.readAllLines(Paths.get(file));
		int n = 0, failed = 0;
		for (String line : lines) {
			String l = line.trim();
			if (l.isEmpty() || l.startsWith("#"))
				continue;
			n++;
			String expectErr = null;
			try {
				Args a = Args.parse(l.split("\\s+"));
				expectErr = a.get("expect-error", null);
				a.opts.remove("expect-error");
				run(a);
				if (expectErr != null)
					throw new IllegalStateException("succeeded, expected an error with: " + expectErr);
				System.out.println("ok " + n + " - " + l);
			} catch (Exception e) {
				String msg = String.valueOf(e);
				for (Throwable c = e.getCause(); c != null; c = c.getCause())
					msg += " / " + c;
				if (expectErr != null && msg.contains(expectErr) && !msg.contains("succeeded, expected")) {
					System.out.println("ok " + n + " - " + l + " (failed as expected: " + msg + ")");
					continue;
				}
				failed++;
				System.out.println("not ok " + n + " - " + l + ": " + msg);
			}
		}
		System.out.flush();
		return failed == 0 ? 0 : 1;
	}

	public static void main(String[] argv) {
		Security.addProvider(new BouncyCastleProvider());
		try {
			if (argv.length == 2 && argv[0].equals("batch"))
				System.exit(batch(argv[1]));
			run(Args.parse(argv));
		} catch (Exception e) {
			System.err.println("SmsBc: " + e);
			System.exit(1);
		}
	}
}
